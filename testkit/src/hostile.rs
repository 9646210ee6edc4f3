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
