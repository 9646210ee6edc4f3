//! [`Caller`]: who sent a request, as the host bridge saw it, and [`Policy`]: who may call a mount.
//!
//! The caller lives in the request's [`http::Extensions`]. Only Rust code can put it there:
//! no header, URL or frame field the page controls is ever turned into a `Caller` by the
//! bus. Each bridge fills it from what its engine reports (the frame that posted a message,
//! the `Origin`/`Referer` the engine attached), and a request without one is an in-process
//! call from Rust. Bridges hand requests to the bus through entry points that always stamp
//! a caller ([`BusHandle::call_from`](crate::BusHandle::call_from), [`Session`](crate::port::Session),
//! [`BusHandle::call_blocking`](crate::BusHandle::call_blocking)), so a bridge cannot grant
//! in-process trust by forgetting one.
//!
//! Identity **fails closed**: a caller is anonymous ([`Caller::is_anonymous`]) unless the
//! engine proved its origin. Anonymous callers reach only mounts marked public
//! ([`Mount::public`](crate::Mount::public), [`Policy::public`]).

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
    // Shared: every request of a session carries a clone.
    origin: Option<std::sync::Arc<str>>,
    frame: FrameKind,
    transport: Transport,
}

impl Caller {
    /// An anonymous caller over `transport`: nothing about it is proven yet. Add what the
    /// engine proved with [`with_origin`](Self::with_origin) and
    /// [`with_frame`](Self::with_frame).
    pub fn new(transport: Transport) -> Self {
        Caller::anonymous(transport)
    }

    /// A caller the engine proved nothing about (no origin, unknown frame): it reaches only
    /// public mounts. The same as [`Caller::new`], named for what it means.
    pub fn anonymous(transport: Transport) -> Self {
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
        self.origin = normalise_origin(origin.as_ref()).map(Into::into);
        self
    }

    /// Sets which frame the request came from.
    pub fn with_frame(mut self, frame: FrameKind) -> Self {
        self.frame = frame;
        self
    }

    /// Whether nothing proves who sent the request: no origin (unknown or opaque) and not
    /// in-process.
    pub fn is_anonymous(&self) -> bool {
        self.origin.is_none() && self.transport != Transport::InProcess
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
    /// platform interception), judged only from headers the engine attaches and page script
    /// cannot set. **Fails closed**: a request the headers do not prove is anonymous.
    ///
    /// `target` is the request's URL and `app_origin` the origin the host serves; the
    /// signals, strongest first:
    /// - `Origin` (CORS requests, form POSTs): that origin; `null` is anonymous.
    /// - `Sec-Fetch-Site` (fetch metadata, where the engine sends it): `same-origin` names
    ///   the target's origin when the target is `app_origin`; any other value
    ///   (`cross-site`, `same-site`, `none` for a typed address) is not the app, even when
    ///   a `Referer` says otherwise (a sandboxed frame of an app page sends the page's URL
    ///   as its referrer, but its origin is opaque).
    /// - `Referer`: its origin.
    /// - nothing: anonymous. Engines send neither header on many subresource requests
    ///   (WebKitGTK: `<img>`, `<script>`, `<link>`, from any document), and a foreign page
    ///   can suppress the `Referer` with `no-referrer`, so a request without them can be
    ///   anyone's.
    ///
    /// The frame is [`FrameKind::Unknown`]: engines do not say which frame made a request.
    ///
    /// ```
    /// use bus_core::{Caller, Transport};
    /// use http::{HeaderMap, HeaderValue};
    ///
    /// let app = "app://localhost";
    /// let target: http::Uri = "app://localhost/api/x".parse().unwrap();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("referer", HeaderValue::from_static("https://evil.example/page"));
    /// let caller = Caller::from_engine_headers(Transport::Scheme, &target, &headers, app);
    /// assert_eq!(caller.origin(), Some("https://evil.example"));
    ///
    /// // No header proves anything: anonymous, whatever the method.
    /// let none = Caller::from_engine_headers(Transport::Scheme, &target, &HeaderMap::new(), app);
    /// assert!(none.is_anonymous());
    ///
    /// headers.insert("referer", HeaderValue::from_static("app://localhost/index.html"));
    /// assert!(Caller::from_engine_headers(Transport::Scheme, &target, &headers, app).is_origin(app));
    /// ```
    pub fn from_engine_headers(
        transport: Transport,
        target: &http::Uri,
        headers: &http::HeaderMap,
        app_origin: &str,
    ) -> Caller {
        let anonymous = Caller::anonymous(transport);
        if let Some(origin) = headers.get(http::header::ORIGIN) {
            return anonymous.with_origin(origin.to_str().unwrap_or("null"));
        }
        let referer = headers
            .get(http::header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(origin_of);
        match headers
            .get("sec-fetch-site")
            .map(|v| v.as_bytes().to_ascii_lowercase())
            .as_deref()
        {
            Some(b"same-origin") => {
                let target_origin = match (target.scheme_str(), target.authority()) {
                    (Some(scheme), Some(authority)) => {
                        normalise_origin(&format!("{scheme}://{authority}"))
                    }
                    _ => None,
                };
                match target_origin {
                    Some(t) if Some(&t) == normalise_origin(app_origin).as_ref() => {
                        anonymous.with_origin(app_origin)
                    }
                    _ => anonymous,
                }
            }
            Some(_) => match referer {
                // A foreign referrer still names who it was; an app one is contradicted.
                Some(r) if !same_origin(r, app_origin) => anonymous.with_origin(r),
                _ => anonymous,
            },
            None => match referer {
                Some(r) => anonymous.with_origin(r),
                None => anonymous,
            },
        }
    }

    /// Whether the caller's origin is exactly `origin` (compared after normalisation:
    /// scheme, host and port must all match; a prefix or suffix never does).
    pub fn is_origin(&self, origin: &str) -> bool {
        // As `normalise_origin(origin) == self.origin`, without allocating: ours is
        // already trimmed and lower case.
        let theirs = origin.trim().trim_end_matches('/');
        match &self.origin {
            Some(mine) => {
                !theirs.is_empty()
                    && !theirs.eq_ignore_ascii_case("null")
                    && mine.eq_ignore_ascii_case(theirs)
            }
            None => false,
        }
    }

    /// Whether the caller's origin is one of `origins`, already normalised (as
    /// `normalise_origin` leaves them): a byte comparison per origin, for the bus's
    /// per-request check against the app's origins.
    pub(crate) fn has_origin_in(&self, origins: &[String]) -> bool {
        self.origin
            .as_deref()
            .is_some_and(|mine| origins.iter().any(|o| o == mine))
    }
}

/// `scheme://authority` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme_end + 3 + authority_end])
}

fn same_origin(a: &str, b: &str) -> bool {
    normalise_origin(a).is_some() && normalise_origin(a) == normalise_origin(b)
}

pub(crate) fn normalise_origin(origin: &str) -> Option<String> {
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

    /// Allows every caller, anonymous and foreign ones included: for what any page may
    /// load, as from a public web server (pages, pictures, scripts, styles, media). Such a
    /// mount must have no side effects and hold no secrets. Same as [`Policy::public`].
    pub fn allow_all() -> Self {
        Policy::custom("public", |_, _| Ok(()))
    }

    /// Allows every caller, anonymous ones included; see [`Policy::allow_all`] and
    /// [`Mount::public`](crate::Mount::public).
    pub fn public() -> Self {
        Policy::allow_all()
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
                    "anonymous request: nothing the engine attached proves that one of the \
                     app's documents sent it (no Origin, Referer or Sec-Fetch-Site naming the \
                     app), and this mount is not public"
                        .into(),
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

    fn h(pairs: &[(&str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    const APP: &str = "app://localhost";

    fn engine(pairs: &[(&str, &str)]) -> Caller {
        let target: http::Uri = "app://localhost/api/x".parse().unwrap();
        Caller::from_engine_headers(Transport::Scheme, &target, &h(pairs), APP)
    }

    #[test]
    fn engine_headers_fail_closed() {
        // Origin first, whatever else is there.
        assert_eq!(
            engine(&[("origin", "evil://x"), ("referer", "app://localhost/")]).origin(),
            Some("evil://x")
        );
        assert!(engine(&[("origin", "null"), ("referer", "app://localhost/")]).is_anonymous());
        // Referer alone names its origin.
        assert!(engine(&[("referer", "app://localhost/a/b?c")]).is_origin(APP));
        assert_eq!(
            engine(&[("referer", "evil://x/page")]).origin(),
            Some("evil://x")
        );
        assert!(engine(&[("referer", "nonsense")]).is_anonymous());
        // Nothing proves anything: anonymous, GET or not (it used to be the app for GET).
        assert!(engine(&[]).is_anonymous());
        // Fetch metadata: same-origin proves the app, anything else contradicts an app
        // Referer (a sandboxed frame of an app page) but keeps a foreign one.
        assert!(engine(&[("sec-fetch-site", "same-origin")]).is_origin(APP));
        assert!(
            engine(&[
                ("sec-fetch-site", "cross-site"),
                ("referer", "app://localhost/page")
            ])
            .is_anonymous()
        );
        assert!(engine(&[("sec-fetch-site", "none")]).is_anonymous());
        assert_eq!(
            engine(&[
                ("sec-fetch-site", "cross-site"),
                ("referer", "https://e.x/p")
            ])
            .origin(),
            Some("https://e.x")
        );
        // same-origin with a target on another origin proves nothing about the app.
        let other: http::Uri = "app://other/x".parse().unwrap();
        let c = Caller::from_engine_headers(
            Transport::Scheme,
            &other,
            &h(&[("sec-fetch-site", "same-origin")]),
            APP,
        );
        assert!(c.is_anonymous());
        assert_eq!(origin_of("https://a.b:8080"), Some("https://a.b:8080"));
    }

    #[test]
    fn anonymous_callers_reach_public_mounts_only() {
        let anonymous = Caller::anonymous(Transport::Scheme);
        let refusal = Policy::origins([APP])
            .check(&anonymous, &parts())
            .unwrap_err();
        assert!(refusal.0.starts_with("anonymous request"), "{refusal}");
        assert!(Policy::public().check(&anonymous, &parts()).is_ok());
        assert!(!Caller::in_process().is_anonymous());
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
        assert!(err.0.contains("anonymous request"));
    }
}
