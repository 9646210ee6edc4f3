//! The single-page-app recipe (README): a built app (`dist/`) served by tower-http's
//! `ServeDir`, with `index.html` as the answer to **page navigations only** for paths that
//! are not files, so a deep link opens the app and a missing asset is a 404, not a page.
//! The test app (`pages/spa`) is shaped as a Vite build: a hashed entry module and a lazy
//! chunk loaded with `import()`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use bus_core::Body;
use http::{Request, Response, StatusCode, header};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// The test app's `dist/`.
pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages/spa")
}

/// Serves `dist`, falling back to `dist/index.html` for navigations (a `GET` whose `Accept`
/// asks for HTML: engines send `text/html,...` for documents and `*/*` or a type of their
/// own for scripts, styles, images and fetch).
pub fn spa(
    dist: &Path,
) -> ServeDir<
    impl tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static,
> {
    let index = dist.join("index.html");
    let fallback = tower::service_fn(move |req: Request<Body>| {
        let index = index.clone();
        async move {
            let page = req.method() == http::Method::GET
                && req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|a| a.to_str().ok())
                    .is_some_and(|a| a.contains("text/html"));
            if !page {
                let mut not_found = Response::new(Body::from(format!(
                    "no file for {} (only page navigations get index.html)",
                    req.uri().path()
                )));
                *not_found.status_mut() = StatusCode::NOT_FOUND;
                return Ok(not_found);
            }
            let response = ServeFile::new(index)
                .oneshot(req)
                .await
                .map_err(|e| match e {})?;
            Ok::<_, Infallible>(response.map(Body::new))
        }
    });
    ServeDir::new(dist).fallback(fallback)
}

/// A deep link into the test app: the page a test loads once the app is mounted with
/// [`mount`].
pub const DEEP_LINK: &str = "/spa/deep/link/42?tab=2";

/// Mounts the test app (`pages/spa`, through [`spa`]) at `/spa`, public: a top-level load
/// carries nothing that proves who asked.
pub fn mount(builder: bus_core::BusBuilder) -> bus_core::BusBuilder {
    builder.mount_with(bus_core::Mount::new("/spa", spa(&pages())).public())
}

/// Checks the test app's report after loading [`DEEP_LINK`], the same in every engine: the
/// route rendered through the lazy chunk, the URL kept, a missing asset a 404 (not the
/// page), the stylesheet a 200.
///
/// # Panics
/// On the first difference, with the report.
pub fn check_report(r: &serde_json::Value) {
    println!("{r}");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["path"], "/spa/deep/link/42");
    assert_eq!(r["search"], "?tab=2");
    assert_eq!(r["rendered"], "deep page for /spa/deep/link/42");
    assert_eq!(r["missingStatus"], 404, "a missing asset is not the page");
    assert_eq!(r["styleStatus"], 200);
}
