//! The `--svg` chart of a `webview` run: the goals, then one bar group per measurement
//! with the three paths side by side, then the paused-stream memory.

use crate::report::sig;
use crate::svg::{Bar, FONT, Row, Scale, WIDTH, goals, hbars, text};
use crate::webview::report::{MEMORY_BUDGET, WebPath, WebviewReport, mib};

/// The chart of a report, as a standalone SVG document.
pub(crate) fn render(report: &WebviewReport) -> String {
    let mut body = String::new();
    let mut y = 34.0;
    text(
        &mut body,
        20.0,
        y,
        22,
        "start",
        "font-weight=\"bold\"",
        report.title(),
    );
    y += 22.0;
    text(
        &mut body,
        20.0,
        y,
        12,
        "start",
        "fill=\"#555\"",
        &format!(
            "one run, {} · {}{}",
            report.machine.started_utc,
            report.webkit,
            if report.quick { " · --quick" } else { "" }
        ),
    );
    y += 16.0;
    text(
        &mut body,
        20.0,
        y,
        12,
        "start",
        "fill=\"#555\"",
        &report.machine.summary(),
    );
    y += 16.0;
    if !report.goals.is_empty() {
        y = goals(&mut body, &report.goals, y + 20.0);
    }
    for m in &report.measurements {
        // The bus page's paths always (a missing one reads "not measured"), then the Tauri
        // peer's paths this measurement has.
        let tauri = WebPath::TAURI
            .into_iter()
            .filter(|p| m.paths.iter().any(|v| v.path == *p));
        let rows: Vec<Row> = WebPath::ALL
            .into_iter()
            .chain(tauri)
            .map(|p| Row {
                label: p.name().to_owned(),
                bars: vec![Bar::new(p.name(), "", m.of(p).unwrap_or(f64::NAN), 1.0)],
            })
            .collect();
        let spread = m
            .paths
            .iter()
            .map(|v| {
                format!(
                    "{} {}-{}",
                    v.path.name(),
                    sig(v.value.min),
                    sig(v.value.max)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        y = hbars(
            &mut body,
            y + 20.0,
            &format!(
                "{} ({}{}, {} is better)",
                m.title.trim(),
                m.unit,
                if m.key.starts_with("busy") {
                    ", log scale"
                } else {
                    ""
                },
                if m.lower_is_better { "lower" } else { "higher" }
            ),
            &format!(
                "median over {} rounds; range: {spread}",
                m.paths.first().map_or(0, |v| v.value.rounds.len())
            ),
            &rows,
            // The scheme path's head-of-line blocking is thousands of times the others.
            if m.key.starts_with("busy") {
                Scale::Log
            } else {
                Scale::Linear
            },
            None,
            &format!(" {}", m.unit),
        );
    }
    if !report.memory.is_empty() {
        let rows: Vec<Row> = report
            .memory
            .iter()
            .map(|m| Row {
                label: m.path.name().to_owned(),
                bars: vec![
                    Bar::new(
                        m.path.name(),
                        "host + WebKit",
                        mib(m.peak_growth_bytes),
                        1.0,
                    ),
                    Bar::new(
                        m.path.name(),
                        "produced by the handler",
                        mib(m.produced_bytes as i64),
                        0.35,
                    ),
                ],
            })
            .collect();
        y = hbars(
            &mut body,
            y + 20.0,
            "Paused 1 GiB stream: RSS growth of the host + WebKit processes (MiB, lower is better)",
            "solid: peak growth while the page holds the reader after its first chunk; light: bytes the handler produced meanwhile",
            &rows,
            Scale::Linear,
            Some((mib(MEMORY_BUDGET), "64 MiB budget")),
            " MiB",
        );
    }
    if !report.not_measured.is_empty() {
        y += 24.0;
        for u in &report.not_measured {
            for line in crate::svg::wrap(&format!("{}: {}", u.name, u.note), 135) {
                text(&mut body, 20.0, y, 13, "start", "fill=\"#555\"", &line);
                y += 18.0;
            }
        }
    }
    let height = y + 20.0;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" {FONT}>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webview::report::tests::sample;

    #[test]
    fn a_full_webview_report_is_well_formed_svg() {
        let mut report = sample();
        report.check_goals();
        report.webkit = "WebKitGTK <2.50> & \"x\"".into();
        let svg = render(&report);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for needle in [
            "Goals",
            "MISS",
            "PASS",
            "64 MiB budget",
            "Tauri 2: not measured in this run",
            "localhost",
        ] {
            assert!(texts.iter().any(|t| t.contains(needle)), "no {needle:?}");
        }
        for node in doc.descendants().filter(|n| n.is_element()) {
            for attr in node.attributes() {
                assert!(
                    !attr.value().contains("NaN") && !attr.value().contains("inf"),
                    "{attr:?}"
                );
            }
        }
    }

    #[test]
    fn tauri_rows_are_drawn_when_measured() {
        let mut report = crate::webview::report::tests::sample_with_tauri(0.6);
        report.check_goals();
        let svg = render(&report);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for needle in [
            "tauri-invoke",
            "tauri-channel",
            "tauri-scheme",
            "tauri-localhost",
        ] {
            assert!(texts.iter().any(|t| t.contains(needle)), "no {needle:?}");
        }
        assert!(texts.iter().any(|t| t.contains("0.8x Tauri 2's invoke")));
    }

    #[test]
    fn an_empty_webview_report_is_still_a_document() {
        let svg = render(&WebviewReport::default());
        roxmltree::Document::parse(&svg).unwrap();
    }
}
