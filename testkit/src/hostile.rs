//! The hostile-page suite's app side, shared by both engines' tests: the mounts foreign
//! documents attack, what they record, and the checks.
//!
//! - `/api/<ctx>/<kind>`: an API mount with the bus's default policy (the app's own
//!   documents only). Its handler records every request that reaches it; from a foreign
//!   context none may. It answers JS-shaped text (`self.__leak = 'SECRET…'`), so a
//!   `<script>` that got it would show.
//! - `/probe/<ctx>/<kind>`: a public mount that records the [`Caller`] the host stamped and
//!   the identity headers the engine attached (the census), and answers public JS.
//! - `/pub/redirect?to=<location>`: a public route that redirects to whatever it is given
//!   (the shape of finding 1: a redirect to request data).
//! - `/hostile/`: the suite's pages ([`pages`]), public.
//!
//! The pages (`testkit/pages/hostile/`) are served by the app and by the foreign origin.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bus_core::{Body, BusBuilder, Caller, Mount};
use http::{HeaderValue, Request, Response, StatusCode};

/// The suite's pages.
pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages/hostile")
}

/// One request that reached `/api` or `/probe`.
#[derive(Clone, Debug)]
pub struct Hit {
    /// `api` or `probe`.
    pub mount: &'static str,
    /// The context label the page put in the path.
    pub ctx: String,
    /// The request kind the page put in the path.
    pub kind: String,
    /// The method.
    pub method: String,
    /// The caller the host stamped.
    pub caller: Option<Caller>,
    /// `origin`, `referer`, `sec-fetch-site`, `sec-fetch-mode`, `sec-fetch-dest`, as
    /// attached (absent ones left out).
    pub headers: BTreeMap<&'static str, String>,
}

/// Everything that reached the suite's mounts.
#[derive(Clone, Debug, Default)]
pub struct Record(Arc<Mutex<Vec<Hit>>>);

impl Record {
    /// A copy of the hits so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the hits so far.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn push(&self, hit: Hit) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(hit);
    }
}

const IDENTITY_HEADERS: [&str; 5] = [
    "origin",
    "referer",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
];

fn recorder(
    mount: &'static str,
    record: Record,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = std::future::Ready<Result<Response<Body>, std::convert::Infallible>>,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |req: Request<Body>| {
        let mut segments = req.uri().path().trim_start_matches('/').splitn(2, '/');
        let ctx = segments.next().unwrap_or("").to_owned();
        let kind = segments.next().unwrap_or("").to_owned();
        let headers = IDENTITY_HEADERS
            .iter()
            .filter_map(|&name| {
                let value = req.headers().get(name)?;
                Some((name, String::from_utf8_lossy(value.as_bytes()).into_owned()))
            })
            .collect();
        record.push(Hit {
            mount,
            ctx,
            kind,
            method: req.method().to_string(),
            caller: req.extensions().get::<Caller>().cloned(),
            headers,
        });
        // What the API answers is the app's secret; what the public probe answers is not.
        let text = if mount == "api" {
            "self.__leak = 'SECRET from the API';"
        } else {
            "self.__probe = 'public';"
        };
        let mut response = Response::new(Body::from(text));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript"),
        );
        std::future::ready(Ok(response))
    })
}

fn redirector() -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = std::future::Ready<Result<Response<Body>, std::convert::Infallible>>,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(|req: Request<Body>| {
        let to = req
            .uri()
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "to")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_else(|| "/".into());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::FOUND;
        if let Ok(location) = HeaderValue::from_str(&to) {
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
        }
        std::future::ready(Ok(response))
    })
}

/// Mounts the suite's routes on `builder` (see the module docs) and returns what they
/// record.
pub fn mount(builder: BusBuilder) -> (BusBuilder, Record) {
    let record = Record::default();
    let builder = builder
        .mount("/api", recorder("api", record.clone()))
        .mount_with(Mount::new("/probe", recorder("probe", record.clone())).public())
        .mount_with(Mount::new("/pub/redirect", redirector()).public())
        .mount_with(Mount::new("/hostile", tower_http::services::ServeDir::new(pages())).public());
    (builder, record)
}

/// A census line for each probe hit: context, kind, method, the caller as stamped, and the
/// identity headers present.
pub fn census(hits: &[Hit]) -> Vec<String> {
    let mut lines: Vec<String> = hits
        .iter()
        .filter(|h| h.mount == "probe")
        .map(|h| {
            let caller = match &h.caller {
                Some(c) if c.is_anonymous() => "anonymous".to_owned(),
                Some(c) => c.origin().unwrap_or("?").to_owned(),
                None => "in-process".to_owned(),
            };
            let headers: Vec<String> = h
                .headers
                .iter()
                .map(|(k, v)| {
                    let v = if *k == "referer" {
                        v.split(['?', '#']).next().unwrap_or("").to_owned()
                    } else {
                        v.clone()
                    };
                    format!("{k}={v}")
                })
                .collect();
            format!(
                "{:<22} {:<20} {:<5} caller={:<16} {}",
                h.ctx,
                h.kind,
                h.method,
                caller,
                headers.join(" ")
            )
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// What the suite holds for every context but the app's own documents (`own`): no request
/// from it reached an API handler, and none reached any mount with the app's identity.
/// Returns the violations.
pub fn violations(hits: &[Hit], app_origin: &str, own: &[&str]) -> Vec<String> {
    hits.iter()
        .filter(|h| !own.contains(&h.ctx.as_str()))
        .filter(|h| h.mount == "api" || h.caller.as_ref().is_none_or(|c| c.is_origin(app_origin)))
        .map(|h| {
            format!(
                "{} {} {} {} reached the app as {:?} (headers {:?})",
                h.mount, h.ctx, h.kind, h.method, h.caller, h.headers
            )
        })
        .collect()
}

/// The requests with a body (`post-*` kinds) from context `ctx` that reached a handler —
/// bodies the host read — after printing what the page saw of each body-carrying attack.
pub fn bodies_read(report: &serde_json::Value, hits: &[Hit], ctx: &str) -> Vec<Hit> {
    for kind in [
        "post-blob",
        "post-blob-marked",
        "post-blob-carrier",
        "post-file-formdata",
        "post-stream",
    ] {
        eprintln!("{kind}: {}", report["outcomes"][format!("api {kind}")]);
    }
    hits.iter()
        .filter(|h| h.ctx == ctx && h.kind.starts_with("post-"))
        .cloned()
        .collect()
}

/// The foreign contexts an app page embeds (`host.html?ctx=…`): each must reach nothing of
/// the app's. The control, `app`, is the app's own page making the same requests.
pub const APP_PAGE_FRAMES: [&str; 4] = [
    "foreign-iframe",
    "foreign-iframe-noref",
    "sandboxed-iframe",
    "sandboxed-srcdoc",
];

/// A foreign top-level page (`attack.html`), with the default referrer policy and with
/// `no-referrer`: `(ctx, extra query)`.
pub const FOREIGN_TOP: [(&str, &str); 2] = [("foreign-top", ""), ("foreign-top-noref", "&noref=1")];

/// What a foreign top-level page can nest: `srcdoc`, an `about:blank` frame it writes
/// (with and without a referrer), `data:` and `blob:` frames. An engine or navigation
/// policy may refuse some of them (they then never report); if they run, their requests
/// are checked like any other.
pub const FOREIGN_NESTED: [(&str, &str); 5] = [
    ("foreign-srcdoc", "&nest=srcdoc"),
    ("blank", "&nest=blank"),
    ("blank-noref", "&nest=blank&noref=1"),
    ("data", "&nest=data"),
    ("blob", "&nest=blob"),
];

/// Finding 1's payloads: `(name, target)` for `/pub/redirect?to=<target>`, each of which
/// would run script in the app origin if the redirect page were built naively. Whatever
/// runs fetches `/api/xss/…` or sets the title to `PWNED`.
pub const REDIRECT_PAYLOADS: [(&str, &str); 3] = [
    (
        "breakout",
        "/x</script><script>document.title='PWNED';fetch('/api/xss/breakout')</script>",
    ),
    ("javascript", "javascript:fetch('/api/xss/javascript')"),
    ("javascript-abs", "JavaScript:document.title='PWNED'"),
];

/// Percent-encodes `s` for a query component (everything but RFC 3986's unreserved).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The first half of the checks that hold after every attack, the same for every engine:
/// no request of a foreign context reached an API handler or was taken for the app
/// ([`violations`]; `app` and `same-origin-child` are the app's own documents), no page
/// reported reading an app response (`leak`), and nothing it could read holds `SECRET`.
/// (The second half, that the host lives and the app's page still reaches its API, is
/// each engine's own.)
///
/// # Panics
/// On any of these.
pub fn assert_contained(hits: &[Hit], reports: &[serde_json::Value], app_origin: &str) {
    let violations = violations(hits, app_origin, &["app", "same-origin-child"]);
    assert!(
        violations.is_empty(),
        "foreign requests acted as the app:\n{}",
        violations.join("\n")
    );
    for r in reports {
        assert_eq!(
            r["leak"],
            serde_json::Value::Null,
            "a script read an app response: {r}"
        );
        let readable = r["readable"].as_object().cloned().unwrap_or_default();
        for (what, text) in readable {
            assert!(
                !text.as_str().unwrap_or("").contains("SECRET"),
                "{what} was readable from {}: {text}",
                r["ctx"]
            );
        }
    }
}

/// Prints the census ([`census`]) of `hits` on stderr, one `census:` line each.
pub fn print_census(hits: &[Hit]) {
    for line in census(hits) {
        eprintln!("census: {line}");
    }
}
