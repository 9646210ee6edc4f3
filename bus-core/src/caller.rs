//! [`Caller`]: who sent a request, as the host bridge saw it, and [`Policy`]: who may call a mount.
//!
//! The caller lives in the request's [`http::Extensions`]. Only Rust code can put it there:
//! no header, URL or frame field the page controls is ever turned into a `Caller` by the
//! bus. Each bridge fills it from what its engine reports (the frame that posted a message,
//! the `Origin`/`Referer` the engine attached), and a request without one is an in-process
//! call from Rust.

use std::fmt;
use std::sync::Arc;

/// Who sent a request. Set by the host bridge, never by the page.
///
/// ```
/// use bus_core::{Caller, FrameKind, Transport};
///
/// let caller = Caller::new(Transport::Scheme)
///     .with_origin("app://localhost")
///     .with_frame(FrameKind::Main);
/// assert!(caller.is_origin("app://localhost"));
/// assert!(caller.is_origin("APP://LOCALHOST/"));
/// assert!(!caller.is_origin("app://localhost.evil"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    origin: Option<String>,
    frame: FrameKind,
    transport: Transport,
}

impl Caller {
    /// A caller with no known origin, from an unknown frame, over `transport`.
    pub fn new(transport: Transport) -> Self {
        Caller {
            origin: None,
            frame: FrameKind::Unknown,
            transport,
        }
    }

    /// Rust code in this process: the most trusted caller.
    pub fn in_process() -> Self {
        Caller::new(Transport::InProcess)
    }

    /// Sets the origin (`scheme://host[:port]`), normalised to lower case without a
    /// trailing slash. `"null"` (an opaque origin) is stored as no origin.
    pub fn with_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.origin = normalise_origin(origin.as_ref());
        self
    }

    /// Sets which frame the request came from.
    pub fn with_frame(mut self, frame: FrameKind) -> Self {
        self.frame = frame;
        self
    }

    /// The caller's origin, `None` when unknown or opaque.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Which frame sent the request.
    pub fn frame(&self) -> FrameKind {
        self.frame
    }

    /// How the request reached the bus.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Who sent a request that the engine's own loader made (a custom-scheme handler,
    /// platform interception), judged only from the headers the engine attached.
    ///
    /// Engines send `Origin` on CORS requests and form POSTs (a foreign page's are
    /// foreign), and a `Referer` on most others; neither can be set by page script. A
    /// request with neither (the host's own first load, an `<img>` from a `no-referrer`
    /// frame) counts as `app_origin` only for GET and HEAD: such subresources must carry
    /// no secrets and have no side effects. The frame is unknown: scheme requests do not
    /// say which frame made them.
    ///
    /// ```
    /// use bus_core::{Caller, Transport};
    /// use http::{HeaderMap, HeaderValue, Method};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("referer", HeaderValue::from_static("https://evil.example/page"));
    /// let caller = Caller::from_engine_headers(Transport::Scheme, &Method::GET, &headers, "app://localhost");
    /// assert_eq!(caller.origin(), Some("https://evil.example"));
    /// let none = Caller::from_engine_headers(Transport::Scheme, &Method::POST, &HeaderMap::new(), "app://localhost");
    /// assert_eq!(none.origin(), None);
    /// ```
    pub fn from_engine_headers(
        transport: Transport,
        method: &http::Method,
        headers: &http::HeaderMap,
        app_origin: &str,
    ) -> Caller {
        let caller = Caller::new(transport).with_frame(FrameKind::Unknown);
        if let Some(origin) = headers.get(http::header::ORIGIN) {
            return caller.with_origin(origin.to_str().unwrap_or("null"));
        }
        if let Some(referer) = headers.get(http::header::REFERER) {
            return caller.with_origin(origin_of(referer.to_str().unwrap_or("")).unwrap_or("null"));
        }
        if method == http::Method::GET || method == http::Method::HEAD {
            caller.with_origin(app_origin)
        } else {
            caller
        }
    }

    /// Whether the caller's origin is exactly `origin` (compared after normalisation:
    /// scheme, host and port must all match; a prefix or suffix never does).
    pub fn is_origin(&self, origin: &str) -> bool {
        match (&self.origin, normalise_origin(origin)) {
            (Some(mine), Some(theirs)) => *mine == theirs,
            _ => false,
        }
    }
}

/// `scheme://authority` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme_end + 3 + authority_end])
}

fn normalise_origin(origin: &str) -> Option<String> {
    let trimmed = origin.trim().trim_end_matches('/');
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("null") {
        None
    } else {
        Some(trimmed.to_ascii_lowercase())
    }
}

/// Which frame of the WebView sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// The top-level document.
    Main,
    /// An iframe.
    Sub,
    /// The bridge cannot tell (or the caller is not a WebView).
    Unknown,
}

/// How a request reached the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// A direct call from Rust in this process.
    InProcess,
    /// The engine's own loading of a custom-scheme URL (navigations, `<img>`, native fetch).
    Scheme,
    /// Frames over a message bridge (the JS shim).
    Frames,
    /// A request intercepted by the platform (Android's `shouldInterceptRequest`).
    Intercept,
}

/// Why a [`Policy`] refused a caller; the text is sent in the 403 body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Check = dyn Fn(&Caller, &http::request::Parts) -> Result<(), Refusal> + Send + Sync;

/// Decides which callers may use a mount. Refused callers get `403` with the reason.
///
/// Policies compose with [`Policy::and`]. In-process callers pass every built-in policy
/// except [`Policy::deny_all`]: Rust code in the process is already trusted.
///
/// ```
/// use bus_core::{Caller, FrameKind, Policy, Transport};
///
/// let policy = Policy::origins(["app://localhost"]).and(Policy::main_frame_only());
/// let parts = http::Request::new(()).into_parts().0;
/// let page = Caller::new(Transport::Frames)
///     .with_origin("app://localhost")
///     .with_frame(FrameKind::Main);
/// assert!(policy.check(&page, &parts).is_ok());
/// let iframe = page.clone().with_frame(FrameKind::Sub);
/// assert!(policy.check(&iframe, &parts).is_err());
/// let foreign = Caller::new(Transport::Scheme).with_origin("https://evil.example");
/// assert!(policy.check(&foreign, &parts).is_err());
/// ```
#[derive(Clone)]
pub struct Policy {
    check: Arc<Check>,
    label: Arc<str>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Policy").field(&self.label).finish()
    }
}

impl Policy {
    /// A policy from a function. `label` names it in debug output.
    pub fn custom<F>(label: &str, check: F) -> Self
    where
        F: Fn(&Caller, &http::request::Parts) -> Result<(), Refusal> + Send + Sync + 'static,
    {
        Policy {
            check: Arc::new(check),
            label: label.into(),
        }
    }

    /// Allows every caller.
    pub fn allow_all() -> Self {
        Policy::custom("allow_all", |_, _| Ok(()))
    }

    /// Refuses every caller, in-process ones included.
    pub fn deny_all() -> Self {
        Policy::custom("deny_all", |_, _| {
            Err(Refusal("this mount refuses every caller".into()))
        })
    }

    /// Allows in-process callers and callers whose origin is one of `origins`.
    pub fn origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let allowed: Vec<String> = origins
            .into_iter()
            .filter_map(|o| normalise_origin(o.as_ref()))
            .collect();
        let label = format!("origins({})", allowed.join(", "));
        Policy::custom(&label, move |caller, _| {
            if caller.transport == Transport::InProcess {
                return Ok(());
            }
            match caller.origin() {
                Some(origin) if allowed.iter().any(|a| a == origin) => Ok(()),
                Some(origin) => Err(Refusal(format!("origin {origin} may not call this mount"))),
                None => Err(Refusal(
                    "a caller with no known origin may not call this mount".into(),
                )),
            }
        })
    }

    /// Allows in-process callers and requests from the top-level frame only.
    pub fn main_frame_only() -> Self {
        Policy::custom("main_frame_only", |caller, _| {
            if caller.transport == Transport::InProcess || caller.frame == FrameKind::Main {
                Ok(())
            } else {
                Err(Refusal(format!(
                    "only the main frame may call this mount (caller frame: {:?})",
                    caller.frame
                )))
            }
        })
    }

    /// Allows a request only when both policies allow it; the first refusal is reported.
    pub fn and(self, other: Policy) -> Self {
        let label = format!("{} & {}", self.label, other.label);
        Policy::custom(&label, move |caller, parts| {
            (self.check)(caller, parts)?;
            (other.check)(caller, parts)
        })
    }

    /// Runs the policy.
    ///
    /// # Errors
    /// The [`Refusal`] to send back as a 403 body.
    pub fn check(&self, caller: &Caller, parts: &http::request::Parts) -> Result<(), Refusal> {
        (self.check)(caller, parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> http::request::Parts {
        http::Request::new(()).into_parts().0
    }

    #[test]
    fn origin_matching_is_exact_not_prefix() {
        let policy = Policy::origins(["app://localhost"]);
        for bad in [
            "app://localhost.evil.com",
            "app://localhost:8080",
            "http://localhost",
            "app://evil.com/app://localhost",
            "null",
        ] {
            let caller = Caller::new(Transport::Scheme).with_origin(bad);
            assert!(
                policy.check(&caller, &parts()).is_err(),
                "{bad} must be refused"
            );
        }
        let caller = Caller::new(Transport::Scheme).with_origin("App://LocalHost/");
        assert!(policy.check(&caller, &parts()).is_ok());
    }

    #[test]
    fn engine_headers_origin_then_referer_then_safe_method() {
        use http::{HeaderMap, HeaderName, HeaderValue, Method};
        let h = |pairs: &[(&str, &str)]| -> HeaderMap {
            pairs
                .iter()
                .map(|(n, v)| {
                    (
                        HeaderName::from_bytes(n.as_bytes()).unwrap(),
                        HeaderValue::from_str(v).unwrap(),
                    )
                })
                .collect()
        };
        let app = "app://localhost";
        let c =
            |m: &Method, hs: &HeaderMap| Caller::from_engine_headers(Transport::Scheme, m, hs, app);
        assert_eq!(
            c(&Method::POST, &h(&[("origin", "evil://x")])).origin(),
            Some("evil://x")
        );
        assert!(c(&Method::GET, &h(&[("referer", "app://localhost/a/b?c")])).is_origin(app));
        assert_eq!(
            c(&Method::GET, &h(&[("referer", "evil://x/page")])).origin(),
            Some("evil://x")
        );
        assert_eq!(c(&Method::POST, &h(&[("origin", "null")])).origin(), None);
        assert_eq!(
            c(&Method::GET, &h(&[("referer", "nonsense")])).origin(),
            None
        );
        assert!(c(&Method::GET, &HeaderMap::new()).is_origin(app));
        assert_eq!(c(&Method::POST, &HeaderMap::new()).origin(), None);
        assert_eq!(origin_of("https://a.b:8080"), Some("https://a.b:8080"));
    }

    #[test]
    fn in_process_passes_everything_but_deny_all() {
        let me = Caller::in_process();
        assert!(Policy::origins(["app://x"]).check(&me, &parts()).is_ok());
        assert!(Policy::main_frame_only().check(&me, &parts()).is_ok());
        assert!(Policy::deny_all().check(&me, &parts()).is_err());
    }

    #[test]
    fn unknown_origin_is_refused_with_a_reason() {
        let caller = Caller::new(Transport::Frames);
        let err = Policy::origins(["app://localhost"])
            .check(&caller, &parts())
            .unwrap_err();
        assert!(err.0.contains("no known origin"));
    }
}
