//! [`Mount`]: a tower service at a path prefix (optionally for one scheme and host), with
//! its policy and limits, and the routing table that picks one for a request.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::body::{Body, BoxError};
use crate::caller::Policy;

pub(crate) type BoxedService = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// A tower service mounted at a path prefix.
///
/// The prefix is matched on whole path segments (`/api` matches `/api` and `/api/x`, never
/// `/apix`); the longest match wins, and a mount restricted to a host or scheme wins over
/// an unrestricted one with the same prefix. By default the prefix is stripped before the
/// service sees the request (as axum's `nest_service` does), so a `ServeDir` mounted at
/// `/static` serves `/static/a.png` from `a.png`.
///
/// Options left unset take the bus's defaults: the policy from
/// [`BusBuilder::app_origin`](crate::BusBuilder::app_origin), the body limit and timeout
/// from [`Limits`](crate::Limits).
///
/// ```
/// use bus_core::{Mount, Policy};
/// use std::time::Duration;
///
/// let echo = tower::service_fn(|req: http::Request<bus_core::Body>| async move {
///     Ok::<_, std::convert::Infallible>(http::Response::new(req.into_body()))
/// });
/// let mount = Mount::new("/echo", echo)
///     .host("localhost")
///     .policy(Policy::allow_all())
///     .max_body(Some(1 << 20))
///     .timeout(Some(Duration::from_secs(5)));
/// # let _ = mount;
/// ```
#[derive(Clone)]
pub struct Mount {
    pub(crate) prefix: String,
    pub(crate) host: Option<String>,
    pub(crate) scheme: Option<String>,
    pub(crate) strip_prefix: bool,
    pub(crate) policy: Option<Policy>,
    pub(crate) max_body: Option<Option<u64>>,
    pub(crate) timeout: Option<Option<Duration>>,
    pub(crate) max_message: Option<usize>,
    pub(crate) service: BoxedService,
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("prefix", &self.prefix)
            .field("host", &self.host)
            .field("scheme", &self.scheme)
            .field("strip_prefix", &self.strip_prefix)
            .field("policy", &self.policy)
            .field("max_body", &self.max_body)
            .field("timeout", &self.timeout)
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

impl Mount {
    /// Mounts `service` at `prefix`.
    ///
    /// Any `tower::Service` over `http::Request<Body>` whose response body yields
    /// [`Bytes`] fits: an axum `Router`, tower-http's `ServeDir`, a `service_fn`.
    ///
    /// # Panics
    /// When `prefix` does not start with `/` or contains `?`, `#`, `.` or `..` segments.
    pub fn new<S, B>(prefix: &str, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        assert!(
            prefix.starts_with('/') && !prefix.contains(['?', '#']) && !has_dot_segment(prefix),
            "a mount prefix must be an absolute path without query, fragment or dot segments, got {prefix:?}"
        );
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.is_empty() { "/" } else { trimmed };
        let service = service
            .map_response(|res: Response<B>| res.map(Body::new))
            .map_err(Into::into);
        Mount {
            prefix: prefix.to_owned(),
            host: None,
            scheme: None,
            strip_prefix: true,
            policy: None,
            max_body: None,
            timeout: None,
            max_message: None,
            service: BoxCloneSyncService::new(service),
        }
    }

    /// Serves only requests whose URI names this host (`localhost`, `localhost:8080`).
    pub fn host(mut self, host: &str) -> Self {
        self.host = Some(host.to_ascii_lowercase());
        self
    }

    /// Serves only requests whose URI has this scheme (`app`, `https`).
    pub fn scheme(mut self, scheme: &str) -> Self {
        self.scheme = Some(scheme.to_ascii_lowercase());
        self
    }

    /// Passes the full path to the service instead of stripping the prefix.
    pub fn keep_prefix(mut self) -> Self {
        self.strip_prefix = false;
        self
    }

    /// Who may call this mount.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Lets anonymous and foreign callers reach this mount ([`Policy::public`]): for what
    /// any page may load, as from a public web server — the app's pages, pictures,
    /// scripts, styles and media. Engines attach nothing that proves who made many such
    /// requests (WebKitGTK sends neither `Origin` nor `Referer` for `<img>`, `<script>` or
    /// `<link>`, and a top-level load has none), so the app's own pages reach their assets
    /// only through public mounts. A public mount must have no side effects and hold no
    /// secrets; API mounts keep the default policy.
    ///
    /// ```
    /// use bus_core::Mount;
    /// use tower_http::services::ServeDir;
    ///
    /// let assets = Mount::new("/", ServeDir::new("dist")).public();
    /// # let _ = assets;
    /// ```
    pub fn public(self) -> Self {
        self.policy(Policy::public())
    }

    /// The largest request body this mount accepts, in bytes (413 above it); `None`
    /// accepts bodies of any size. Default: [`Limits::max_body`](crate::Limits::max_body).
    pub fn max_body(mut self, bytes: Option<u64>) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// How long the service may take to produce a response head (504 after it); `None`
    /// lets it take as long as it wants. The response body may stream for longer.
    /// Default: [`Limits::timeout`](crate::Limits::timeout).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The largest WebSocket message, in bytes, that a page and this mount's handlers may
    /// send each other over frames (feature `ws`); a larger one closes the socket with
    /// code 1009. Default: [`Limits::max_message`](crate::Limits::max_message).
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = Some(bytes.max(1));
        self
    }

    fn matches(&self, uri: &Uri) -> bool {
        if let Some(host) = &self.host {
            let Some(authority) = uri.authority() else {
                return false;
            };
            if !authority.as_str().eq_ignore_ascii_case(host)
                && !authority.host().eq_ignore_ascii_case(host)
            {
                return false;
            }
        }
        if let Some(scheme) = &self.scheme {
            match uri.scheme_str() {
                Some(s) if s.eq_ignore_ascii_case(scheme) => {}
                _ => return false,
            }
        }
        path_has_prefix(uri.path(), &self.prefix)
    }
}

fn path_has_prefix(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether the path has a `.` or `..` segment, literally or percent-encoded.
///
/// Browsers remove dot segments before sending a request, so one that still has them was
/// written by hand; refusing them keeps "which mount is this?" and "which file is this?"
/// from ever disagreeing.
pub(crate) fn has_dot_segment(path: &str) -> bool {
    // A byte scan with no allocation: this runs on every request.
    path.split('/').any(|segment| {
        let bytes = segment.as_bytes();
        let mut dots = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'.' {
                i += 1;
            } else if bytes[i..].len() >= 3
                && bytes[i] == b'%'
                && bytes[i + 1] == b'2'
                && (bytes[i + 2] == b'e' || bytes[i + 2] == b'E')
            {
                i += 3;
            } else {
                return false;
            }
            dots += 1;
        }
        dots == 1 || dots == 2
    })
}

/// The mounts of a bus, most specific first.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    mounts: Vec<Mount>,
}

impl Routes {
    /// # Panics
    /// When two mounts have the same prefix, host and scheme (the second would never be
    /// reached), wherever they are in the list.
    pub(crate) fn new(mut mounts: Vec<Mount>) -> Self {
        // Sorted by what makes two mounts the same, every duplicate has its twin next to
        // it whatever the order of registration.
        let mut keys: Vec<_> = mounts
            .iter()
            .map(|m| (&m.prefix, &m.host, &m.scheme))
            .collect();
        keys.sort_unstable();
        for pair in keys.windows(2) {
            let (prefix, host, scheme) = pair[0];
            assert!(
                pair[0] != pair[1],
                "two mounts at the same prefix {prefix:?} (host {}, scheme {}): the second would \
                 never be reached",
                host.as_deref().unwrap_or("any"),
                scheme.as_deref().unwrap_or("any"),
            );
        }
        // Stable sort: longest prefix first, then restricted before unrestricted; among
        // equals, the order of registration.
        mounts.sort_by_key(|m| {
            (
                std::cmp::Reverse(m.prefix.len()),
                m.host.is_none(),
                m.scheme.is_none(),
            )
        });
        Routes { mounts }
    }

    pub(crate) fn find(&self, uri: &Uri) -> Option<&Mount> {
        self.mounts.iter().find(|m| m.matches(uri))
    }
}

/// `uri` with `prefix` removed from its path (`/api/x?q` at `/api` becomes `/x?q`).
pub(crate) fn strip(uri: Uri, prefix: &str) -> Result<Uri, http::Error> {
    if prefix == "/" {
        return Ok(uri);
    }
    let mut parts = uri.into_parts();
    let (path, query) = match &parts.path_and_query {
        Some(pq) => (&pq.path()[prefix.len()..], pq.query()),
        None => ("", None),
    };
    // The mount's root with no query needs no allocation; otherwise one for the new path
    // and query. Scheme and authority move over as they are.
    parts.path_and_query = Some(if path.is_empty() && query.is_none() {
        http::uri::PathAndQuery::from_static("/")
    } else {
        let path = if path.is_empty() { "/" } else { path };
        let mut path_and_query =
            String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
        path_and_query.push_str(path);
        if let Some(q) = query {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        http::uri::PathAndQuery::from_maybe_shared(bytes::Bytes::from(path_and_query))?
    });
    Ok(Uri::from_parts(parts)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn svc() -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static {
        tower::service_fn(|_req: Request<Body>| async { Ok(Response::new(Body::empty())) })
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(path_has_prefix("/api", "/api"));
        assert!(path_has_prefix("/api/", "/api"));
        assert!(path_has_prefix("/api/x", "/api"));
        assert!(!path_has_prefix("/apix", "/api"));
        assert!(path_has_prefix("/anything", "/"));
    }

    #[test]
    fn longest_and_most_specific_mount_wins() {
        let routes = Routes::new(vec![
            Mount::new("/", svc()),
            Mount::new("/api", svc()),
            Mount::new("/api", svc()).host("other"),
            Mount::new("/api/v2/", svc()),
        ]);
        let find = |u: &str| {
            routes
                .find(&u.parse().unwrap())
                .map(|m| (m.prefix.clone(), m.host.clone()))
        };
        assert_eq!(find("/api/v2/x"), Some(("/api/v2".into(), None)));
        assert_eq!(find("/api/v1"), Some(("/api".into(), None)));
        assert_eq!(
            find("app://other/api/v1"),
            Some(("/api".into(), Some("other".into())))
        );
        assert_eq!(find("/apiary"), Some(("/".into(), None)));
    }

    #[test]
    #[should_panic(expected = "two mounts at the same prefix")]
    fn duplicate_mounts_are_refused() {
        Routes::new(vec![Mount::new("/a", svc()), Mount::new("/a/", svc())]);
    }

    #[test]
    #[should_panic(
        expected = r#"two mounts at the same prefix "/a" (host x, scheme any): the second would never be reached"#
    )]
    fn duplicate_mounts_are_refused_when_not_adjacent() {
        // Sorting by prefix length and restriction alone left the two `x` mounts apart.
        Routes::new(vec![
            Mount::new("/a", svc()).host("x"),
            Mount::new("/a", svc()).host("y"),
            Mount::new("/a", svc()).host("x"),
        ]);
    }

    #[test]
    fn same_prefix_on_other_hosts_and_schemes_is_fine() {
        let routes = Routes::new(vec![
            Mount::new("/a", svc()).host("x"),
            Mount::new("/a", svc()).host("y"),
            Mount::new("/a", svc()).scheme("app"),
            Mount::new("/a", svc()).host("x").scheme("app"),
            Mount::new("/a", svc()),
        ]);
        assert_eq!(routes.mounts.len(), 5);
    }

    #[test]
    fn stripping_keeps_query_scheme_and_authority() {
        let uri: Uri = "app://localhost/api/items/7?x=1".parse().unwrap();
        assert_eq!(
            strip(uri.clone(), "/api").unwrap(),
            "app://localhost/items/7?x=1"
        );
        let uri: Uri = "/api?x=1".parse().unwrap();
        assert_eq!(strip(uri.clone(), "/api").unwrap(), "/?x=1");
    }

    #[test]
    fn dot_segments_are_detected_even_encoded() {
        assert!(has_dot_segment("/static/../secret"));
        assert!(has_dot_segment("/static/%2e%2E/secret"));
        assert!(has_dot_segment("/./x"));
        assert!(!has_dot_segment("/static/..hidden/a.b"));
        assert!(has_dot_segment("/a/.%2E/b"));
        assert!(!has_dot_segment("/a/.../b"));
        assert!(!has_dot_segment("/a/%2e%2e%2e/b"));
        assert!(!has_dot_segment("/a/%2f/b"));
        assert!(!has_dot_segment("/"));
        assert!(!has_dot_segment(""));
    }
}
