//! The `--svg` chart, written by hand: the goals first, then throughput per size per lane
//! on a log scale, latency, requests per second, memory and instructions.

use std::fmt::Write as _;

use crate::report::{Goal, Report, Status, sig};

pub(crate) const WIDTH: f64 = 1000.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 40.0;
pub(crate) const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

pub(crate) fn color(lane: &str) -> &'static str {
    match lane {
        "memcpy" => "#8c8c8c",
        "memcpy64k" => "#c7c7c7",
        "bus" => "#1f77b4",
        "framed" => "#2ca02c",
        "hyper" => "#ff7f0e",
        "frames" => "#2ca02c",
        "native" => "#1f77b4",
        "localhost" => "#ff7f0e",
        "tauri-invoke" => "#d62728",
        "tauri-channel" => "#e377c2",
        "tauri-scheme" => "#8c564b",
        "tauri-localhost" => "#ffbb78",
        _ => "#9467bd",
    }
}

/// Escapes text for XML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A log-scale axis from the decade below `min` to the decade above `max`.
#[derive(Debug)]
struct LogAxis {
    lo: i32,
    hi: i32,
}

impl LogAxis {
    fn covering(values: impl Iterator<Item = f64>) -> Option<LogAxis> {
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            min = min.min(v);
            max = max.max(v);
        }
        if max <= 0.0 {
            return None;
        }
        let mut lo = min.log10().floor() as i32;
        if min < 2.0 * 10f64.powi(lo) {
            // A bar just above the axis's start would be invisible: start a decade lower.
            lo -= 1;
        }
        let hi = (max.log10().ceil() as i32).max(lo + 1);
        Some(LogAxis { lo, hi })
    }

    /// Position of `v` in 0..=1 along the axis.
    fn frac(&self, v: f64) -> f64 {
        if v <= 0.0 || !v.is_finite() {
            return 0.0;
        }
        ((v.log10() - f64::from(self.lo)) / f64::from(self.hi - self.lo)).clamp(0.0, 1.0)
    }

    fn decades(&self) -> Vec<f64> {
        (self.lo..=self.hi).map(|e| 10f64.powi(e)).collect()
    }
}

/// `0.01`, `2.5`, `10`, `20k`, `1M`: a tick value without trailing zeros.
fn tick_label(v: f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

/// A value label: three significant digits, with `k`/`M` from 100,000 on.
fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", sig(v / 1e6))
    } else if v >= 1e5 {
        format!("{}k", sig(v / 1e3))
    } else {
        sig(v)
    }
}

/// Characters of a 12 px note that fit across the chart.
pub(crate) const NOTE_CHARS: usize = 150;

/// Splits `text` into lines of at most `width` characters, at spaces.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

pub(crate) fn text(
    w: &mut String,
    x: f64,
    y: f64,
    size: u32,
    anchor: &str,
    extra: &str,
    body: &str,
) {
    let _ = writeln!(
        w,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" {extra}>{}</text>",
        esc(body)
    );
}

pub(crate) fn title(w: &mut String, y: f64, heading: &str, note: &str) {
    text(w, 20.0, y, 17, "start", "font-weight=\"bold\"", heading);
    if !note.is_empty() {
        text(w, 20.0, y + 18.0, 12, "start", "fill=\"#555\"", note);
    }
}

fn legend(w: &mut String, x: f64, y: f64, items: &[(&str, &str, f64)]) {
    let mut x = x;
    for (name, fill, opacity) in items {
        let _ = writeln!(
            w,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{fill}\" fill-opacity=\"{opacity}\"/>",
            y - 10.0
        );
        text(w, x + 16.0, y, 12, "start", "", name);
        x += 34.0 + 7.5 * name.len() as f64;
    }
}

/// The chart of a report, as a standalone SVG document.
pub(crate) fn render(report: &Report) -> String {
    let mut body = String::new();
    let mut y = 0.0;

    // Header.
    y += 34.0;
    text(
        &mut body,
        20.0,
        y,
        22,
        "start",
        "font-weight=\"bold\"",
        "In-process bus vs hyper over loopback vs framed port",
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
            report.machine.summary(),
            if report.quick { " · --quick" } else { "" }
        ),
    );
    y += 16.0;

    if !report.goals.is_empty() {
        y = goals(&mut body, &report.goals, y + 20.0);
    }
    if !report.throughput.is_empty() {
        y = throughput(&mut body, report, y + 20.0);
    }
    if !report.latency.is_empty() {
        let rows: Vec<Row> = report
            .latency
            .iter()
            .map(|r| Row {
                label: format!("{} · {}", r.path, r.handler),
                bars: vec![
                    Bar::new(&r.path, "p50", r.p50_us.median, 1.0),
                    Bar::new(&r.path, "p99", r.p99_us.median, 0.45),
                ],
            })
            .collect();
        y = hbars(
            &mut body,
            y + 20.0,
            "Tiny GET round trip (µs, log scale, lower is better)",
            "median over rounds; solid p50, light p99; handler: a bare tower service, or an axum Router route",
            &rows,
            Scale::Log,
            None,
            " µs",
        );
    }
    if !report.rps.is_empty() {
        let mut paths: Vec<&str> = report.rps.iter().map(|r| r.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        let rows: Vec<Row> = paths
            .iter()
            .map(|path| Row {
                label: (*path).to_owned(),
                bars: report
                    .rps
                    .iter()
                    .filter(|r| r.path == *path)
                    .map(|r| {
                        Bar::new(
                            path,
                            &format!(
                                "{} caller{}",
                                r.callers,
                                if r.callers == 1 { "" } else { "s" }
                            ),
                            r.requests_per_s.median,
                            if r.callers == 1 { 0.45 } else { 1.0 },
                        )
                    })
                    .collect(),
            })
            .collect();
        y = hbars(
            &mut body,
            y + 20.0,
            "Tiny GETs per second (log scale, higher is better)",
            "light: 1 caller; solid: 64 concurrent callers",
            &rows,
            Scale::Log,
            None,
            "/s",
        );
    }
    if !report.memory.is_empty() {
        let rows: Vec<Row> = report
            .memory
            .iter()
            .map(|r| Row {
                label: r.path.clone(),
                bars: vec![Bar::new(
                    &r.path,
                    "",
                    r.peak_growth_bytes
                        .map_or(f64::NAN, |b| b as f64 / 1048576.0),
                    1.0,
                )],
            })
            .collect();
        y = hbars(
            &mut body,
            y + 20.0,
            "Peak RSS growth streaming 1 GiB (MiB, lower is better)",
            "VmHWM after clear_refs; dashed line: the 32 MiB budget",
            &rows,
            Scale::Linear,
            Some((32.0, "32 MiB budget")),
            " MiB",
        );
    }
    if !report.instructions.is_empty() {
        let rows: Vec<Row> = report
            .instructions
            .iter()
            .map(|r| Row {
                label: format!("{} · {}", r.path, r.handler),
                bars: vec![Bar::new(&r.path, "", r.per_request, 1.0)],
            })
            .collect();
        y = hbars(
            &mut body,
            y + 20.0,
            "Instructions per tiny GET (callgrind, lower is better)",
            "user-space instructions of all threads; the kernel's share of a TCP round trip is not counted",
            &rows,
            Scale::Linear,
            None,
            "",
        );
    }

    let height = y + 20.0;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" {FONT}>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

pub(crate) fn goals(w: &mut String, goals: &[Goal], top: f64) -> f64 {
    title(w, top, "Goals", "");
    let mut y = top + 14.0;
    for g in goals {
        y += 26.0;
        let (fill, label) = match g.status {
            Status::Pass => ("#2ca02c", "PASS"),
            Status::Miss => ("#d62728", "MISS"),
            Status::NotMeasured => ("#8c8c8c", "n/a"),
        };
        let _ = writeln!(
            w,
            "<rect x=\"20\" y=\"{:.1}\" width=\"52\" height=\"20\" rx=\"4\" fill=\"{fill}\"/>",
            y - 15.0
        );
        text(
            w,
            46.0,
            y,
            12,
            "middle",
            "fill=\"white\" font-weight=\"bold\"",
            label,
        );
        text(w, 84.0, y, 13, "start", "", &g.goal);
        for line in wrap(&g.detail, 145) {
            y += 15.0;
            text(w, 84.0, y, 11, "start", "fill=\"#555\"", &line);
        }
        y += 4.0;
    }
    y + 10.0
}

fn throughput(w: &mut String, report: &Report, top: f64) -> f64 {
    title(
        w,
        top,
        "Throughput per body size (GB/s, log scale, higher is better)",
        "median over rounds, whiskers min-max; memcpy: the same bytes into a reused aligned body-sized buffer; memcpy64k: into one 64 KiB buffer",
    );
    let lanes = ["memcpy", "memcpy64k", "bus", "framed", "hyper"];
    legend(w, LEFT, top + 42.0, &lanes.map(|l| (l, color(l), 1.0)));
    let plot_top = top + 60.0;
    let plot_h = 300.0;
    let bottom = plot_top + plot_h;
    let plot_w = WIDTH - LEFT - RIGHT;
    let Some(axis) = LogAxis::covering(report.throughput.iter().flat_map(|r| {
        r.lanes
            .iter()
            .flat_map(|l| [l.gb_per_s.min, l.gb_per_s.max])
    })) else {
        return bottom;
    };
    for t in axis.decades() {
        let y = bottom - axis.frac(t) * plot_h;
        let _ = writeln!(
            w,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>",
            WIDTH - RIGHT
        );
        text(
            w,
            LEFT - 8.0,
            y + 4.0,
            11,
            "end",
            "fill=\"#555\"",
            &tick_label(t),
        );
    }
    text(
        w,
        LEFT - 50.0,
        plot_top + plot_h / 2.0,
        12,
        "middle",
        &format!(
            "transform=\"rotate(-90 {:.1} {:.1})\"",
            LEFT - 50.0,
            plot_top + plot_h / 2.0
        ),
        "GB/s",
    );
    let groups = report.throughput.len() as f64;
    let group_w = plot_w / groups;
    let bar_w = (group_w * 0.8 / lanes.len() as f64).min(44.0);
    for (g, row) in report.throughput.iter().enumerate() {
        let center = LEFT + group_w * (g as f64 + 0.5);
        let start = center - bar_w * lanes.len() as f64 / 2.0;
        for (i, lane) in lanes.iter().enumerate() {
            let Some(l) = row.lanes.iter().find(|l| l.lane == *lane) else {
                continue;
            };
            let v = l.gb_per_s.median;
            let x = start + bar_w * i as f64;
            let top_y = bottom - axis.frac(v) * plot_h;
            let _ = writeln!(
                w,
                "<rect x=\"{:.1}\" y=\"{top_y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
                x + 1.0,
                bar_w - 2.0,
                (bottom - top_y).max(0.0),
                color(lane),
                esc(&format!("{lane} at {}: {} GB/s", row.size, sig(v)))
            );
            let (lo_y, hi_y) = (
                bottom - axis.frac(l.gb_per_s.min) * plot_h,
                bottom - axis.frac(l.gb_per_s.max) * plot_h,
            );
            let cx = x + bar_w / 2.0;
            let _ = writeln!(
                w,
                "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{lo_y:.1}\" y2=\"{hi_y:.1}\" stroke=\"#222\" stroke-width=\"1\"/>"
            );
            text(
                w,
                cx,
                hi_y.min(top_y) - 4.0,
                10,
                "middle",
                "fill=\"#222\"",
                &sig(v),
            );
        }
        text(
            w,
            center,
            bottom + 18.0,
            13,
            "middle",
            "font-weight=\"bold\"",
            &row.size,
        );
    }
    let _ = writeln!(
        w,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{bottom:.1}\" y2=\"{bottom:.1}\" stroke=\"#333\"/>",
        WIDTH - RIGHT
    );
    bottom + 26.0
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Scale {
    Log,
    Linear,
}

#[derive(Debug)]
pub(crate) struct Bar {
    fill: &'static str,
    opacity: f64,
    name: String,
    value: f64,
}

impl Bar {
    pub(crate) fn new(path: &str, name: &str, value: f64, opacity: f64) -> Bar {
        Bar {
            fill: color(path),
            opacity,
            name: name.to_owned(),
            value,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) bars: Vec<Bar>,
}

/// Horizontal grouped bars: one row per path, one bar per series.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hbars(
    w: &mut String,
    top: f64,
    heading: &str,
    note: &str,
    rows: &[Row],
    scale: Scale,
    marker: Option<(f64, &str)>,
    unit: &str,
) -> f64 {
    // A long note (every path's range) wraps, and the plot moves down by its extra lines.
    text(w, 20.0, top, 17, "start", "font-weight=\"bold\"", heading);
    let note_lines = wrap(note, NOTE_CHARS);
    for (i, line) in note_lines.iter().enumerate() {
        text(
            w,
            20.0,
            top + 18.0 + 15.0 * i as f64,
            12,
            "start",
            "fill=\"#555\"",
            line,
        );
    }
    let plot_top = top + 34.0 + 15.0 * note_lines.len().saturating_sub(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT - 110.0;
    let bar_h = 18.0;
    let values = rows
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.value))
        .chain(marker.map(|m| m.0));
    let (frac, ticks): (Box<dyn Fn(f64) -> f64>, Vec<f64>) = match scale {
        Scale::Log => match LogAxis::covering(values) {
            Some(axis) => {
                let ticks = axis.decades();
                (Box::new(move |v| axis.frac(v)), ticks)
            }
            None => (Box::new(|_| 0.0), vec![]),
        },
        Scale::Linear => {
            let max = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
            let max = if max > 0.0 { max * 1.1 } else { 1.0 };
            let step = 10f64.powf((max / 4.0).log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * step)
                .find(|s| max / s <= 6.0)
                .unwrap_or(step * 10.0);
            let ticks = (0..)
                .map(|i| i as f64 * step)
                .take_while(|t| *t <= max)
                .collect();
            (Box::new(move |v: f64| (v / max).clamp(0.0, 1.0)), ticks)
        }
    };
    let rows_h: f64 = rows
        .iter()
        .map(|r| r.bars.len() as f64 * bar_h + 12.0)
        .sum();
    let bottom = plot_top + rows_h;
    for t in &ticks {
        let x = LEFT + frac(*t) * plot_w;
        let _ = writeln!(
            w,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{plot_top:.1}\" y2=\"{bottom:.1}\" stroke=\"#ddd\"/>"
        );
        text(
            w,
            x,
            bottom + 14.0,
            11,
            "middle",
            "fill=\"#555\"",
            &tick_label(*t),
        );
    }
    let mut y = plot_top;
    for row in rows {
        let row_h = row.bars.len() as f64 * bar_h;
        text(
            w,
            LEFT - 10.0,
            y + row_h / 2.0 + 5.0,
            13,
            "end",
            "font-weight=\"bold\"",
            &row.label,
        );
        for bar in &row.bars {
            if bar.value.is_finite() {
                let len = (frac(bar.value) * plot_w).max(1.0);
                let _ = writeln!(
                    w,
                    "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"{}\"><title>{}</title></rect>",
                    y + 1.0,
                    bar_h - 2.0,
                    bar.fill,
                    bar.opacity,
                    esc(&format!(
                        "{} {}: {}{unit}",
                        row.label,
                        bar.name,
                        sig(bar.value)
                    ))
                );
                let label = if bar.name.is_empty() {
                    format!("{}{unit}", human(bar.value))
                } else {
                    format!("{} {}{unit}", bar.name, human(bar.value))
                };
                text(
                    w,
                    LEFT + len + 6.0,
                    y + bar_h - 5.0,
                    11,
                    "start",
                    "",
                    &label,
                );
            } else {
                text(
                    w,
                    LEFT + 6.0,
                    y + bar_h - 5.0,
                    11,
                    "start",
                    "fill=\"#888\"",
                    "not measured",
                );
            }
            y += bar_h;
        }
        y += 12.0;
    }
    if let Some((value, label)) = marker {
        let x = LEFT + frac(value) * plot_w;
        let _ = writeln!(
            w,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"#d62728\" stroke-dasharray=\"5 4\"/>",
            plot_top - 4.0
        );
        text(
            w,
            x + 4.0,
            plot_top + 4.0,
            11,
            "start",
            "fill=\"#d62728\"",
            label,
        );
    }
    bottom + 24.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Report;

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"))
    }

    #[test]
    fn a_full_report_is_well_formed_svg() {
        let mut report = crate::report::tests::sample();
        report.check_goals();
        report.machine.cpu_model = "A <weird> & \"quoted\" CPU".into();
        let svg = render(&report);
        let doc = parse(&svg);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for needle in [
            "Goals",
            "MISS",
            "PASS",
            "1 GiB",
            "64 callers",
            "32 MiB budget",
        ] {
            assert!(texts.iter().any(|t| t.contains(needle)), "no {needle:?}");
        }
        assert!(
            texts
                .iter()
                .any(|t| t.contains("A <weird> & \"quoted\" CPU"))
        );
        // Every number drawn is finite.
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
    fn an_empty_report_is_still_a_document() {
        let svg = render(&Report::default());
        parse(&svg);
    }

    #[test]
    fn ticks_and_wrapping() {
        assert_eq!(tick_label(0.01), "0.01");
        assert_eq!(tick_label(10.0), "10");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(20_000.0), "20k");
        assert_eq!(tick_label(1e6), "1M");
        assert_eq!(human(724_592.0), "725k");
        assert_eq!(human(1_564_229.0), "1.56M");
        assert_eq!(human(9936.0), "9936");
        assert_eq!(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
        assert_eq!(wrap("averylongword x", 4), ["averylongword", "x"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn a_long_note_wraps_and_moves_the_plot_down() {
        let rows = [Row {
            label: "frames".into(),
            bars: vec![Bar::new("frames", "", 1.0, 1.0)],
        }];
        let mut short = String::new();
        let short_bottom = hbars(
            &mut short,
            0.0,
            "t",
            "short note",
            &rows,
            Scale::Linear,
            None,
            "",
        );
        let note = "range: ".to_owned() + &"path 0.123-0.456, ".repeat(20);
        let mut long = String::new();
        let long_bottom = hbars(&mut long, 0.0, "t", &note, &rows, Scale::Linear, None, "");
        let lines = wrap(&note, NOTE_CHARS).len();
        assert!(lines >= 3, "{lines}");
        assert!((long_bottom - short_bottom - 15.0 * (lines - 1) as f64).abs() < 1e-9);
        parse(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\">{long}</svg>"
        ));
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(esc("bell\u{7}"), "bell ");
    }

    #[test]
    fn log_axes_cover_decades() {
        let axis = LogAxis::covering([0.5, 120.0].into_iter()).unwrap();
        assert_eq!((axis.lo, axis.hi), (-1, 3));
        let expected = [0.1, 1.0, 10.0, 100.0, 1000.0];
        for (got, want) in axis.decades().iter().zip(expected) {
            assert!((got / want - 1.0).abs() < 1e-12, "{got} vs {want}");
        }
        assert!((axis.frac(1.0) - 0.25).abs() < 1e-9);
        let axis = LogAxis::covering([10.0].into_iter()).unwrap();
        assert_eq!((axis.lo, axis.hi), (0, 1));
        assert!(LogAxis::covering([0.0, f64::NAN].into_iter()).is_none());
    }
}
