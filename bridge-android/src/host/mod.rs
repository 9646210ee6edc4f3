//! The Android host, platform-neutral: which request takes which path, and the work of
//! each path. No JNI and no CDP here — the JNI layer and the Chromium emulator both call
//! this same code.
//!
//! | what the page does | path | entry point |
//! |---|---|---|
//! | navigations, `<img>`, `<script>`, `<video>`, bodiless GET/HEAD fetch/XHR | `shouldInterceptRequest`, body pulled as an `InputStream` | [`AndroidHost::intercept`] |
//! | fetch/XHR with a body, uploads, EventSource, cancel, streams | frames over a string bridge | [`AndroidHost::open_session`] → [`FrameSession`] |
//! | `<form method=post>` | the shim sends it as frames, the host stashes the answer, the page navigates to it | [`STASH_REQUEST`], [`STASH_HEADER`], [`RESULT_PREFIX`] |
//! | any navigation of a frame (`shouldOverrideUrlLoading`) | the navigation policy: the app origin, `about:blank`/`about:srcdoc`, allowed origins | [`AndroidHost::allows_navigation`] |
//!
//! ```
//! use bridge_android::host::{AndroidHost, InterceptedRequest, DEFAULT_ORIGIN};
//! use bus_core::{Body, Bus, Mount};
//! use std::io::Read;
//!
//! let hello = tower::service_fn(|_req: http::Request<Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hi")))
//! });
//! // A page: public, since the app's own first load (loadUrl) carries nothing that proves
//! // who asked. API routes keep the default policy (the app's documents only).
//! let bus = Bus::builder()
//!     .app_origin(DEFAULT_ORIGIN)
//!     .mount_with(Mount::new("/hello", hello).public())
//!     .build();
//! let host = AndroidHost::new(bus.handle(), DEFAULT_ORIGIN).unwrap();
//!
//! // What shouldInterceptRequest gets, on a WebView thread:
//! let request = InterceptedRequest::get("https://app.invalid/hello").main_frame();
//! let mut response = host.intercept(&request).expect("a bus URL");
//! let mut text = String::new();
//! response.body.read_to_string(&mut text).unwrap();
//! assert_eq!((response.status, text.as_str()), (200, "hi"));
//!
//! // Other origins are the WebView's own business:
//! assert!(host.intercept(&InterceptedRequest::get("https://example.com/")).is_none());
//! ```

mod frames;
mod intercept;
mod navigation;
mod stash;

use std::fmt;
use std::sync::Arc;

use bus_core::BusHandle;

pub use frames::{FrameError, FrameSession, SessionRefused, delivery_script};
pub use intercept::{InterceptBody, InterceptedRequest, InterceptedResponse};
pub use stash::StashLimits;

/// The app origin to use unless there is a reason not to: `.invalid` never resolves
/// (RFC 6761), so a request that ever escapes interception fails instead of reaching a
/// socket that another app could own. (A `.localhost` name resolves to loopback.)
pub const DEFAULT_ORIGIN: &str = "https://app.invalid";

/// Path prefix of the form-result pages: `GET <origin>/__bus/result/<token>` shows the
/// stashed answer to a form submission once. The host answers these itself; the bus
/// never sees them.
pub const RESULT_PREFIX: &str = "/__bus/result/";

/// The marker (frames only: a pseudo-header in a `POST`'s `RequestHead`) by which the shim
/// asks for a form submission's answer to be stashed for a navigation. Its name is not an
/// HTTP token, so no `fetch`, `XMLHttpRequest`, `Headers` or form can carry it: a header
/// page script can set is never taken for the shim's request (it goes to the handler as
/// any other header). Only code that writes frames itself can send it, and what it gets
/// is its own answer, shown once to the app origin. See the crate README, "Forms".
pub const STASH_REQUEST: &str = ":inproc-bus-stash";

/// The response header that carries a stashed answer's token to the page (in the head of
/// a stream sent with [`STASH_REQUEST`]; the body is not sent).
pub const STASH_HEADER: &str = "x-inproc-bus-stash";

/// The global the page's `bindingTransport` defines and [`delivery_script`] calls.
pub const DELIVER_GLOBAL: &str = "__inprocBusDeliver";

/// The answer to a request with a body that reached `shouldInterceptRequest`, which never
/// sees bodies.
pub const BODY_REFUSED: &str =
    "request bodies cannot be intercepted on Android; this request must go through the bus shim";

/// Why an origin cannot be the app origin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Not `scheme://host[:port]`.
    #[error("not an origin (scheme://host[:port] with no path, query or fragment): {0}")]
    NotAnOrigin(String),
    /// Not http or https: Android WebView treats other schemes as opaque origins.
    #[error("the app origin must be https (or http), not {0}")]
    Scheme(String),
    /// The host resolves to this device (`localhost`, `*.localhost`, an IP literal): a
    /// request that escapes interception would reach whatever listens there.
    #[error("{0} resolves to a socket: use a name that never resolves, like {DEFAULT_ORIGIN}")]
    Resolves(String),
}

/// The Android host: one per WebView (or per app, shared by its WebViews). Cheap to clone;
/// `Send + Sync`, called from WebView threads, JNI threads and the UI thread at once.
#[derive(Clone)]
pub struct AndroidHost {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) bus: BusHandle,
    /// `scheme://host[:port]`, lower case, default port omitted.
    pub(crate) origin: String,
    pub(crate) parsed: url::Origin,
    pub(crate) stash: stash::Stash,
    /// Origins the WebView may show besides the app's ([`AndroidHost::allow_navigation_to`]).
    pub(crate) navigable: navigation::Navigable,
}

impl fmt::Debug for AndroidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (entries, bytes) = self.inner.stash.usage();
        f.debug_struct("AndroidHost")
            .field("origin", &self.inner.origin)
            .field("stashed", &entries)
            .field("stash_bytes", &bytes)
            .finish_non_exhaustive()
    }
}

impl AndroidHost {
    /// A host serving `origin` (use [`DEFAULT_ORIGIN`]) from `bus`. Give the bus the same
    /// origin as its app origin (`BusBuilder::app_origin`), so its default policy lets the
    /// app's pages in.
    ///
    /// # Errors
    /// [`OriginError`] when `origin` is not an http(s) origin, or names a host that
    /// resolves (`localhost`, `*.localhost`, an IP address).
    pub fn new(bus: BusHandle, origin: &str) -> Result<AndroidHost, OriginError> {
        Self::with_stash_limits(bus, origin, StashLimits::default())
    }

    /// As [`new`](Self::new), with the form-result stash bounded by `limits`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_stash_limits(
        bus: BusHandle,
        origin: &str,
        limits: StashLimits,
    ) -> Result<AndroidHost, OriginError> {
        let parsed = parse_app_origin(origin)?;
        Ok(AndroidHost {
            inner: Arc::new(Inner {
                bus,
                origin: parsed.ascii_serialization(),
                parsed,
                stash: stash::Stash::new(limits),
                navigable: navigation::Navigable::default(),
            }),
        })
    }

    /// The app origin, `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The bus this host serves.
    pub fn bus(&self) -> &BusHandle {
        &self.inner.bus
    }

    /// The stash's limits.
    pub fn stash_limits(&self) -> &StashLimits {
        self.inner.stash.limits()
    }

    /// Form results waiting for their navigation, and the bytes the stash holds (stored
    /// and being collected).
    pub fn stash_usage(&self) -> (usize, usize) {
        self.inner.stash.usage()
    }

    /// Whether `url` (absolute) is of the app origin.
    pub fn is_app_url(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|u| u.origin() == self.inner.parsed)
    }

    /// Whether `origin` (`scheme://host[:port]`, as a platform reports a frame's origin)
    /// is the app origin. `null` and anything unparsable are not.
    pub fn is_app_origin(&self, origin: &str) -> bool {
        is_same_origin(origin, &self.inner.parsed)
    }
}

pub(crate) fn is_same_origin(origin: &str, app: &url::Origin) -> bool {
    let origin = origin.trim();
    !origin.eq_ignore_ascii_case("null")
        && url::Url::parse(origin).is_ok_and(|u| {
            u.origin() == *app && (u.path() == "/" || u.path().is_empty()) && u.query().is_none()
        })
}

fn parse_app_origin(origin: &str) -> Result<url::Origin, OriginError> {
    let not = || OriginError::NotAnOrigin(origin.to_owned());
    let url = url::Url::parse(origin.trim()).map_err(|_| not())?;
    if !(url.path() == "/" || url.path().is_empty())
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(not());
    }
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(OriginError::Scheme(url.scheme().to_owned()));
    }
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(OriginError::Resolves(name.to_owned()));
            }
        }
        Some(other) => return Err(OriginError::Resolves(other.to_string())),
        None => return Err(not()),
    }
    Ok(url.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_origins_must_fail_closed() {
        assert!(parse_app_origin("https://app.invalid").is_ok());
        assert!(parse_app_origin("https://app.invalid/").is_ok());
        assert!(parse_app_origin("https://APP.invalid:443").is_ok());
        for bad in [
            "https://localhost",
            "https://app.localhost",
            "http://127.0.0.1:8080",
            "https://[::1]",
        ] {
            assert!(
                matches!(parse_app_origin(bad), Err(OriginError::Resolves(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_app_origin("app://localhost"),
            Err(OriginError::Scheme(_))
        ));
        for bad in ["https://app.invalid/x", "https://app.invalid?x", "nonsense"] {
            assert!(
                matches!(parse_app_origin(bad), Err(OriginError::NotAnOrigin(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn same_origin_is_exact() {
        let app = parse_app_origin(DEFAULT_ORIGIN).unwrap();
        assert!(is_same_origin("https://app.invalid", &app));
        assert!(is_same_origin("https://app.invalid:443/", &app));
        for bad in [
            "null",
            "https://app.invalid.evil.com",
            "http://app.invalid",
            "https://app.invalid:8443",
            "https://evil.invalid",
            "https://app.invalid/path",
        ] {
            assert!(!is_same_origin(bad, &app), "{bad}");
        }
    }
}
