//! [`CookieJar`]: the app origin's cookies, kept by the host and used on every path.
//!
//! Engines do not keep cookies for what the bus answers: WebKitGTK ignores them on a custom
//! scheme, and no engine stores a `Set-Cookie` carried as frames or returned by Android's
//! `shouldInterceptRequest`. So the bus keeps them itself, in one jar shared by every path
//! (scheme, interception, frames, WebSocket upgrades), in its dispatch:
//!
//! - a request whose [`Caller`] is one of the app's origins gets the jar's
//!   `Cookie` header (whatever `Cookie` header it had is removed first), in the order and
//!   form a browser sends (RFC 6265 §5.4: longer paths first, then earlier creation;
//!   `name=value` joined by `; `);
//! - the `Set-Cookie` headers of the response to such a request are stored (RFC 6265 §5.3,
//!   by the `cookie_store` crate: `Path`, `Domain` and host-only, `Expires`/`Max-Age`,
//!   `HttpOnly`, `Secure`), and removed from the response, as a browser hides them from
//!   script;
//! - anonymous and foreign callers get no cookies, and their responses' `Set-Cookie` is
//!   dropped: a document the engine did not prove to be the app's neither reads nor plants
//!   the app's cookies. In-process callers are left alone (no cookies added, `Set-Cookie`
//!   kept).
//!
//! Every request the jar serves is same-site (its caller is the app), so `SameSite` never
//! withholds a cookie; cross-site requests get none at all, stricter than a browser for
//! `SameSite=None` cookies. The jar matches URLs as `https://host/path` (the app origin
//! is a secure context on every host), so `Secure` cookies are kept and sent.
//!
//! `document.cookie` is served from the same jar through the reserved path
//! [`COOKIE_PATH`] (app callers only): `GET ?path=/doc/path` answers the cookies a script
//! of a document at that path may see (not `HttpOnly`), and `POST ?path=/doc/path` with a
//! cookie string as its body first stores it as `document.cookie = ...` would (an
//! `HttpOnly` one, or one that would replace an `HttpOnly` cookie, is ignored, as the spec
//! says). A GET never writes (`?set=` is answered 405: an `<img>` could make that GET), and
//! every answer is `nosniff` (never loaded as a script or a style).
//!
//! Persistence is the app's choice ([`CookieJar::persistent`]): persistent (unexpired,
//! `Expires`/`Max-Age`) cookies are written to a JSON file after each change, as a browser
//! keeps them across restarts; session cookies live in memory only.

use std::fmt;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cookie_store::{CookieStore, RawCookie};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::BodyExt;
use url::Url;

use crate::{Body, Caller};

/// The reserved path that serves `document.cookie` to the app's documents.
pub const COOKIE_PATH: &str = "/.well-known/inproc-bus/cookie";

/// The response header that carries the jar's [mirror](CookieJar::mirror) to the page's
/// shim: on every frames response to the app that changed the jar (a `Set-Cookie`), and on
/// every answer of [`COOKIE_PATH`]. The shim removes it before the page sees the response.
pub const MIRROR_HEADER: &str = "x-inproc-bus-cookies";

/// Cookies of the app's origins. Cheap to clone: clones share the jar.
///
/// ```
/// use bus_core::CookieJar;
///
/// let jar = CookieJar::in_memory();
/// let url = "app://localhost/api/login".parse().unwrap();
/// let mut headers = http::HeaderMap::new();
/// headers.append("set-cookie", "sid=s3cret; Path=/; HttpOnly".parse().unwrap());
/// headers.append("set-cookie", "theme=dark; Path=/".parse().unwrap());
/// jar.store_response(&url, &headers);
/// let url = "app://localhost/api/me".parse().unwrap();
/// assert_eq!(jar.cookie_header(&url).unwrap(), "sid=s3cret; theme=dark");
/// assert_eq!(jar.document_cookie("localhost", "/"), "theme=dark");
/// ```
#[derive(Clone)]
pub struct CookieJar {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<CookieStore>,
    file: Option<PathBuf>,
    /// Whether the store may hold a cookie: set (under the lock) when one is stored,
    /// cleared with the jar. A request to an empty jar is answered without taking the
    /// lock (issue 16).
    maybe_held: AtomicBool,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("cookies", &self.lock().iter_unexpired().count())
            .field("file", &self.inner.file)
            .finish()
    }
}

impl Default for CookieJar {
    fn default() -> Self {
        CookieJar::in_memory()
    }
}

impl CookieJar {
    /// An empty jar kept in memory: every cookie is gone when the process ends.
    pub fn in_memory() -> Self {
        CookieJar {
            inner: Arc::new(Inner {
                store: Mutex::new(CookieStore::new()),
                file: None,
                maybe_held: AtomicBool::new(false),
            }),
        }
    }

    /// A jar whose persistent cookies are kept in `file` (JSON, written after each change,
    /// through a temporary file and a rename). An existing file is loaded; a missing one is
    /// created on the first change.
    ///
    /// # Errors
    /// The file exists but cannot be read or is not a cookie jar.
    pub fn persistent(file: impl Into<PathBuf>) -> std::io::Result<Self> {
        let file = file.into();
        let store = match std::fs::File::open(&file) {
            Ok(f) => cookie_store::serde::json::load(BufReader::new(f)).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not a cookie jar: {e}", file.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CookieStore::new(),
            Err(e) => return Err(e),
        };
        let maybe_held = AtomicBool::new(store.iter_any().next().is_some());
        Ok(CookieJar {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                file: Some(file),
                maybe_held,
            }),
        })
    }

    /// The file persistent cookies are kept in, if any.
    pub fn file(&self) -> Option<&Path> {
        self.inner.file.as_deref()
    }

    /// The `Cookie` header a browser would send with a request to `uri` (absolute), or
    /// `None` when no cookie matches.
    pub fn cookie_header(&self, uri: &http::Uri) -> Option<String> {
        self.cookie_header_for(
            uri.host()?,
            uri.path_and_query().map_or("/", |p| p.as_str()),
        )
    }

    /// The `Cookie` header for a request to `path_and_query` on `host`.
    pub fn cookie_header_for(&self, host: &str, path_and_query: &str) -> Option<String> {
        let store = self.lock();
        // An empty jar (every app's until it sets a cookie) answers before a URL is built
        // and parsed: that was ~4,000 instructions on every page request (issue 16).
        store.iter_any().next()?;
        let url = jar_url(host, path_and_query)?;
        let mut matches = store.matches(&url);
        // RFC 6265 §5.4 step 2: longer paths first; the store keeps creation order
        // (insertion order, kept on update) within a path, and the sort is stable.
        matches.sort_by_key(|c| std::cmp::Reverse(c.path.as_ref().len()));
        if matches.is_empty() {
            return None;
        }
        let pairs: Vec<String> = matches.iter().map(|c| pair(c)).collect();
        Some(pairs.join("; "))
    }

    /// Stores the `Set-Cookie` headers of a response to a request for `uri` (absolute).
    /// Malformed or refused cookies are skipped, as a browser skips them.
    pub fn store_response(&self, uri: &http::Uri, headers: &HeaderMap) {
        if let Some(host) = uri.host() {
            self.store_response_for(
                host,
                uri.path_and_query().map_or("/", |p| p.as_str()),
                headers,
            );
        }
    }

    /// Stores the `Set-Cookie` headers of a response to a request for `path_and_query` on
    /// `host`.
    pub fn store_response_for(&self, host: &str, path_and_query: &str, headers: &HeaderMap) {
        let Some(url) = jar_url(host, path_and_query) else {
            return;
        };
        let cookies: Vec<RawCookie<'static>> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| RawCookie::parse(v.to_owned()).ok())
            .collect();
        if cookies.is_empty() {
            return;
        }
        let mut store = self.lock();
        for cookie in cookies {
            let name = cookie.name().to_owned();
            match store.insert_raw(&cookie, &url) {
                Ok(cookie_store::StoreAction::ExpiredExisting) => {
                    forget_expired(&mut store, &name);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(cookie = %name, error = %e, "Set-Cookie ignored"),
            }
        }
        self.inner.maybe_held.store(true, Ordering::Release);
        self.save(&store);
    }

    /// What `document.cookie` reads in a document at `path` on `host`: the matching cookies
    /// that are not `HttpOnly`, in the `Cookie` header's order and form.
    pub fn document_cookie(&self, host: &str, path: &str) -> String {
        let Some(url) = jar_url(host, path) else {
            return String::new();
        };
        let store = self.lock();
        let mut matches: Vec<_> = store
            .matches(&url)
            .into_iter()
            .filter(|c| c.http_only() != Some(true))
            .collect();
        matches.sort_by_key(|c| std::cmp::Reverse(c.path.as_ref().len()));
        matches
            .iter()
            .map(|c| pair(c))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `document.cookie = cookie` in a document at `path` on `host`. Returns whether the
    /// jar changed. Ignored, as the spec says, when the cookie is `HttpOnly` or would
    /// replace an `HttpOnly` cookie (a script cannot touch those), or is malformed.
    pub fn set_from_document(&self, host: &str, path: &str, cookie: &str) -> bool {
        let Some(url) = jar_url(host, path) else {
            return false;
        };
        let Ok(parsed) = cookie_store::Cookie::parse(cookie.to_owned(), &url) else {
            return false;
        };
        if parsed.http_only() == Some(true) {
            return false;
        }
        let mut store = self.lock();
        let domain = String::from(&parsed.domain);
        let path = String::from(&parsed.path);
        if let Some(old) = store.get_any(&domain, &path, parsed.name())
            && old.http_only() == Some(true)
        {
            return false;
        }
        let name = parsed.name().to_owned();
        let changed = match store.insert(parsed.into_owned(), &url) {
            Ok(cookie_store::StoreAction::ExpiredExisting) => {
                forget_expired(&mut store, &name);
                true
            }
            Ok(_) => true,
            Err(_) => false,
        };
        if changed {
            self.inner.maybe_held.store(true, Ordering::Release);
            self.save(&store);
        }
        changed
    }

    /// The page's mirror of the jar for `host` (header [`MIRROR_HEADER`]): a JSON array, in
    /// the store's order, of `{"n": name, "v": value, "p": path, "e": expiry in ms since the
    /// epoch or null}` for each cookie a script may see, and `{"n", "p", "h": true}` (no
    /// value) for each `HttpOnly` one, so the page can refuse to shadow it. The shim
    /// answers `document.cookie` from it synchronously, matching paths and expiry itself.
    pub fn mirror(&self, host: &str) -> String {
        let Some(url) = jar_url(host, "/") else {
            return "[]".into();
        };
        let store = self.lock();
        let entries: Vec<serde_json::Value> = store
            .iter_unexpired()
            .filter(|c| c.domain.matches(&url))
            .map(|c| {
                let path: &str = c.path.as_ref();
                let expires = match &c.expires {
                    cookie_store::CookieExpiration::AtUtc(at) => {
                        serde_json::Value::from(at.unix_timestamp().saturating_mul(1000))
                    }
                    cookie_store::CookieExpiration::SessionEnd => serde_json::Value::Null,
                };
                if c.http_only() == Some(true) {
                    serde_json::json!({ "n": c.name(), "p": path, "h": true })
                } else {
                    serde_json::json!({ "n": c.name(), "v": c.value(), "p": path, "e": expires })
                }
            })
            .collect();
        serde_json::Value::Array(entries).to_string()
    }

    /// Removes every cookie (a logout of every session, a "clear data").
    pub fn clear(&self) {
        let mut store = self.lock();
        store.clear();
        self.inner.maybe_held.store(false, Ordering::Release);
        self.save(&store);
    }

    /// How many unexpired cookies the jar holds.
    pub fn len(&self) -> usize {
        self.lock().iter_unexpired().count()
    }

    /// Whether the jar holds no unexpired cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, CookieStore> {
        // A panic while holding the lock leaves a consistent store (every update is one
        // map operation): keep using it.
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save(&self, store: &CookieStore) {
        let Some(file) = &self.inner.file else {
            return;
        };
        let result = (|| -> std::io::Result<()> {
            let tmp = file.with_extension("tmp");
            let mut out = std::fs::File::create(&tmp)?;
            cookie_store::serde::json::save(store, &mut out)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            out.flush()?;
            out.sync_all()?;
            std::fs::rename(&tmp, file)
        })();
        if let Err(e) = result {
            tracing::warn!(file = %file.display(), error = %e, "cookie jar not saved");
        }
    }
}

/// Removes the expired cookies named `name`, so that setting it again counts as a new
/// cookie (a new creation time, last in order) as in a browser.
fn forget_expired(store: &mut CookieStore, name: &str) {
    let expired: Vec<(String, String)> = store
        .iter_any()
        .filter(|c| c.name() == name && c.is_expired())
        .map(|c| (String::from(&c.domain), String::from(&c.path)))
        .collect();
    for (domain, path) in expired {
        store.remove(&domain, &path, name);
    }
}

fn pair(cookie: &cookie_store::Cookie<'_>) -> String {
    let (name, value) = cookie.name_value();
    if name.is_empty() {
        value.to_owned()
    } else {
        format!("{name}={value}")
    }
}

/// The URL the jar matches for `host` and `path_and_query`: always `https`, the app origin
/// being a secure context whatever its scheme.
fn jar_url(host: &str, path_and_query: &str) -> Option<Url> {
    let path = if path_and_query.starts_with('/') {
        path_and_query
    } else {
        "/"
    };
    Url::parse(&format!("https://{host}{path}")).ok()
}

/// The host a request of `caller` is for: the URI's, or the caller's origin's for a
/// relative URI.
/// Where the app's cookies of one request live: the host and the URL path the page asked
/// for, kept as the URI's own shared pieces (no copy) and made a host name only when a
/// cookie is read or stored.
pub(crate) struct Scope {
    authority: Option<http::uri::Authority>,
    /// The caller's origin's host, for a request whose URI names none.
    origin_host: Option<String>,
    path: Option<http::uri::PathAndQuery>,
}

impl Scope {
    /// The scope of a request for `uri` from `caller` (one of the app's documents); `None`
    /// when neither the URI nor the caller's origin names a host.
    pub(crate) fn of(uri: &http::Uri, caller: &Caller) -> Option<Scope> {
        let (authority, origin_host) = match uri.authority() {
            Some(authority) => (Some(authority.clone()), None),
            None => (None, Some(request_host(uri, caller)?)),
        };
        Some(Scope {
            authority,
            origin_host,
            path: uri.path_and_query().cloned(),
        })
    }

    /// The host, lower case (as [`request_host`] gives it).
    pub(crate) fn host(&self) -> String {
        match &self.authority {
            Some(authority) => authority.host().to_ascii_lowercase(),
            None => self.origin_host.clone().unwrap_or_default(),
        }
    }

    /// The path and query the page asked for (`/` when the URI has none).
    pub(crate) fn path(&self) -> &str {
        self.path.as_ref().map_or("/", |p| p.as_str())
    }
}

impl CookieJar {
    /// [`cookie_header_for`](Self::cookie_header_for) the scope's host and path; an empty
    /// jar answers without making the host name.
    pub(crate) fn cookie_header_in(&self, scope: &Scope) -> Option<String> {
        // A cookie another thread is storing at this moment is missed, as if this
        // request had come first.
        if !self.inner.maybe_held.load(Ordering::Acquire) {
            return None;
        }
        self.lock().iter_any().next()?;
        self.cookie_header_for(&scope.host(), scope.path())
    }
}

pub(crate) fn request_host(uri: &http::Uri, caller: &Caller) -> Option<String> {
    if let Some(host) = uri.host() {
        return Some(host.to_ascii_lowercase());
    }
    let origin: http::Uri = caller.origin()?.parse().ok()?;
    origin.host().map(str::to_ascii_lowercase)
}

/// The most a `document.cookie` write sent as a body may hold.
const MAX_DOCUMENT_COOKIE: usize = 64 * 1024;

/// The reserved path [`COOKIE_PATH`]: `document.cookie` for the app's documents.
pub(crate) async fn document_api(
    jar: &CookieJar,
    app_host: Option<&str>,
    parts: &http::request::Parts,
    body: Body,
) -> Response<Body> {
    let answer = |status: StatusCode, text: String| {
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(CACHE_CONTROL, "no-store")
            // Never a script or a style, whatever loads it.
            .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(Body::from(text))
            .expect("a valid response")
    };
    let Some(host) = app_host else {
        return answer(
            StatusCode::FORBIDDEN,
            "document.cookie is served to the app's own documents only; nothing proves this \
             request came from one"
                .into(),
        );
    };
    let mut path = "/".to_owned();
    let mut set = None;
    for (key, value) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        match &*key {
            "path" => path = value.into_owned(),
            "set" => set = Some(value.into_owned()),
            _ => {}
        }
    }
    if !path.starts_with('/') {
        return answer(
            StatusCode::BAD_REQUEST,
            format!("path must be the document's absolute path, got {path:?}"),
        );
    }
    match parts.method {
        // A write is a POST: a GET that changed cookies could be made by an <img>.
        Method::GET | Method::HEAD if set.is_some() => {
            return answer(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{COOKIE_PATH}: a document.cookie write is a POST with the cookie string \
                     as its body, not ?set= on a {}",
                    parts.method
                ),
            );
        }
        Method::GET | Method::HEAD => {}
        Method::POST => {
            let bytes = match http_body_util::Limited::new(body, MAX_DOCUMENT_COOKIE)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    return answer(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "a document.cookie write is at most {MAX_DOCUMENT_COOKIE} bytes: {e}"
                        ),
                    );
                }
            };
            match String::from_utf8(bytes.to_vec()) {
                Ok(text) => set = Some(text),
                Err(_) => {
                    return answer(
                        StatusCode::BAD_REQUEST,
                        "a document.cookie write must be UTF-8 text".into(),
                    );
                }
            }
        }
        ref other => {
            return answer(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{other} is not allowed on {COOKIE_PATH}: GET reads, POST writes"),
            );
        }
    }
    if let Some(cookie) = set {
        jar.set_from_document(host, &path, &cookie);
    }
    let mut response = answer(StatusCode::OK, jar.document_cookie(host, &path));
    if let Ok(mirror) = http::HeaderValue::from_str(&jar.mirror(host)) {
        response.headers_mut().insert(MIRROR_HEADER, mirror);
    }
    response
}

/// Removes the page-supplied `Cookie` headers (the bus attaches the jar's instead).
pub(crate) fn strip_request_cookies(headers: &mut HeaderMap) {
    // `remove` takes every value of the name (one hash and probe, where a loop until
    // `None` took two: issue 16).
    headers.remove(COOKIE);
}

/// Removes every `Set-Cookie` header.
pub(crate) fn strip_set_cookie(headers: &mut HeaderMap) {
    headers.remove(SET_COOKIE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    /// The scope of a request for `path` from the app's main document.
    fn app_scope(path: &str) -> Scope {
        let app = Caller::new(crate::Transport::Frames).with_origin("app://localhost");
        Scope::of(&uri(&format!("app://localhost{path}")), &app).unwrap()
    }

    /// The bus's request path skips the lock while the jar has held nothing since it was
    /// made or cleared; every way a cookie gets in is seen.
    #[test]
    fn requests_see_every_way_a_cookie_gets_in() {
        let jar = CookieJar::in_memory();
        assert_eq!(jar.cookie_header_in(&app_scope("/")), None);
        set(&jar, "app://localhost/", &["a=1; Path=/"]);
        assert_eq!(
            jar.cookie_header_in(&app_scope("/")).as_deref(),
            Some("a=1")
        );
        jar.clear();
        assert_eq!(jar.cookie_header_in(&app_scope("/")), None);
        assert!(jar.set_from_document("localhost", "/", "b=2; Path=/"));
        assert_eq!(
            jar.cookie_header_in(&app_scope("/x")).as_deref(),
            Some("b=2")
        );
    }

    /// Every `Cookie` field the page sent goes, whatever their number; others stay.
    #[test]
    fn every_page_cookie_field_is_stripped() {
        let mut headers = HeaderMap::new();
        for value in ["a=1", "b=2", "c=3"] {
            headers.append(COOKIE, value.parse().unwrap());
        }
        headers.append(SET_COOKIE, "d=4".parse().unwrap());
        headers.append(SET_COOKIE, "e=5".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        strip_request_cookies(&mut headers);
        assert_eq!(headers.get_all(COOKIE).iter().count(), 0);
        strip_set_cookie(&mut headers);
        assert_eq!(headers.get_all(SET_COOKIE).iter().count(), 0);
        assert_eq!(headers.len(), 1);
    }

    fn set(jar: &CookieJar, at: &str, cookies: &[&str]) {
        let mut headers = HeaderMap::new();
        for c in cookies {
            headers.append(SET_COOKIE, c.parse().unwrap());
        }
        jar.store_response(&uri(at), &headers);
    }

    #[test]
    fn order_is_longer_path_first_then_creation() {
        let jar = CookieJar::in_memory();
        set(&jar, "app://localhost/", &["b=1; Path=/", "a=2; Path=/"]);
        set(&jar, "app://localhost/api/x", &["deep=3; Path=/api"]);
        // Updating keeps the creation time (and so the place).
        set(&jar, "app://localhost/", &["b=4; Path=/"]);
        assert_eq!(
            jar.cookie_header(&uri("app://localhost/api/items"))
                .unwrap(),
            "deep=3; b=4; a=2"
        );
        assert_eq!(
            jar.cookie_header(&uri("app://localhost/other")).unwrap(),
            "b=4; a=2"
        );
        // Deleting then setting again puts it last.
        set(&jar, "app://localhost/", &["b=; Path=/; Max-Age=0"]);
        set(&jar, "app://localhost/", &["b=5; Path=/"]);
        assert_eq!(
            jar.cookie_header(&uri("app://localhost/")).unwrap(),
            "a=2; b=5"
        );
    }

    #[test]
    fn host_only_secure_and_http_only() {
        let jar = CookieJar::in_memory();
        set(
            &jar,
            "app://localhost/login",
            &[
                "sid=x; Path=/; HttpOnly; Secure; SameSite=Strict",
                "ui=y; Path=/",
            ],
        );
        assert_eq!(
            jar.cookie_header(&uri("app://localhost/")).unwrap(),
            "sid=x; ui=y"
        );
        assert!(jar.cookie_header(&uri("app://other/")).is_none());
        assert_eq!(jar.document_cookie("localhost", "/"), "ui=y");
        // A script cannot overwrite or plant an HttpOnly cookie.
        assert!(!jar.set_from_document("localhost", "/", "sid=evil; Path=/"));
        assert!(!jar.set_from_document("localhost", "/", "new=1; HttpOnly"));
        assert!(jar.set_from_document("localhost", "/page", "js=1; Path=/"));
        assert_eq!(
            jar.cookie_header(&uri("app://localhost/")).unwrap(),
            "sid=x; ui=y; js=1"
        );
        assert!(jar.set_from_document("localhost", "/", "js=; Max-Age=0; Path=/"));
        assert_eq!(jar.document_cookie("localhost", "/"), "ui=y");
    }

    #[test]
    fn expiry() {
        let jar = CookieJar::in_memory();
        set(
            &jar,
            "app://localhost/",
            &[
                "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "new=1; Max-Age=3600",
            ],
        );
        assert_eq!(
            jar.cookie_header(&uri("app://localhost/")).unwrap(),
            "new=1"
        );
    }

    #[test]
    fn persistence_keeps_persistent_cookies_only() {
        let dir = std::env::temp_dir().join(format!("bus-jar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cookies.json");
        let _ = std::fs::remove_file(&file);
        let jar = CookieJar::persistent(&file).unwrap();
        set(
            &jar,
            "app://localhost/",
            &[
                "session=1; Path=/",
                "kept=2; Path=/; Max-Age=3600; HttpOnly",
            ],
        );
        drop(jar);
        let again = CookieJar::persistent(&file).unwrap();
        assert_eq!(
            again.cookie_header(&uri("app://localhost/")).unwrap(),
            "kept=2"
        );
        // The way the bus asks, which skips a jar it knows to be empty: a loaded one is not.
        assert_eq!(
            again.cookie_header_in(&app_scope("/")).as_deref(),
            Some("kept=2")
        );
        std::fs::write(&file, "not json").unwrap();
        assert!(CookieJar::persistent(&file).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
