//! `shouldInterceptRequest`: requests the engine makes itself (navigations, subresources,
//! bodiless fetch/XHR), answered with a status, headers and a body the engine pulls.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use bus_core::{BlockingBody, Body, BoxError, Caller, FrameKind, Transport};
use bytes::{Buf, Bytes};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};

use super::{AndroidHost, BODY_REFUSED, RESULT_PREFIX};

/// Redirects followed on the host for subresources (as browsers allow).
const MAX_REDIRECTS: usize = 20;

/// Headers removed before the bus sees an intercepted request: `WebResourceResponse`
/// cannot carry a `304`, so the engine must never make a handler answer one.
const CONDITIONAL: [&str; 2] = ["if-none-match", "if-modified-since"];

/// A request as Android's `shouldInterceptRequest(WebView, WebResourceRequest)` reports it.
/// It never has a body: Android does not give one (Google issue 119844519).
///
/// Everything here comes from the engine; nothing is taken from the page's own claims
/// (`Origin` and `Referer` are headers the engine attaches).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterceptedRequest {
    /// `getMethod()`.
    pub method: String,
    /// `getUrl()`: absolute.
    pub url: String,
    /// `getRequestHeaders()` (Android gives a map: one value per name).
    pub headers: Vec<(String, String)>,
    /// `isForMainFrame()`: the request loads the top-level document.
    pub is_main_frame: bool,
    /// `hasGesture()`.
    pub has_gesture: bool,
    /// `isRedirect()`.
    pub is_redirect: bool,
}

impl InterceptedRequest {
    /// A `GET` of `url` from a subresource or fetch (not the main frame).
    pub fn get(url: &str) -> Self {
        InterceptedRequest {
            method: "GET".into(),
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = method.into();
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Marks the request as the main frame's document load.
    pub fn main_frame(mut self) -> Self {
        self.is_main_frame = true;
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_navigation(&self) -> bool {
        self.is_main_frame
            || self.header_value("sec-fetch-dest").is_some_and(|d| {
                let d = d.trim();
                d.eq_ignore_ascii_case("document")
                    || d.eq_ignore_ascii_case("iframe")
                    || d.eq_ignore_ascii_case("frame")
            })
    }
}

/// The answer for `shouldInterceptRequest`: what `new WebResourceResponse(mimeType,
/// encoding, statusCode, reasonPhrase, responseHeaders, data)` takes, already within what
/// it accepts (status 100–599 except 300–399; a non-empty ASCII reason phrase).
#[derive(Debug)]
pub struct InterceptedResponse {
    /// 200–299 or 400–599 (the host maps everything else).
    pub status: u16,
    /// Non-empty ASCII.
    pub reason: String,
    /// The media type of `Content-Type`, lower case, without parameters.
    pub mime_type: Option<String>,
    /// The `charset` parameter of `Content-Type`.
    pub encoding: Option<String>,
    /// Response headers in order, repeated names included (see [`header_map`](Self::header_map)
    /// for what Android's `Map<String, String>` can take). Values are Latin-1 decoded.
    pub headers: Vec<(String, String)>,
    /// The body, pulled by the engine (`InputStream.read` on a WebView thread). Never
    /// absent: an empty stream when there is no body.
    pub body: InterceptBody,
}

impl InterceptedResponse {
    /// The headers as one value per name, repeated ones joined with `", "` (as HTTP
    /// allows for every header but `Set-Cookie`, whose values are joined with `"\n"`,
    /// which Android's map cannot express either; see the README's caveats).
    pub fn header_map(&self) -> BTreeMap<String, String> {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &self.headers {
            map.entry(name.clone())
                .and_modify(|v| {
                    v.push_str(if name == "set-cookie" { "\n" } else { ", " });
                    v.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        map
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(status: StatusCode, message: &str) -> Self {
        Self::generated(
            status,
            "text/plain; charset=utf-8",
            Bytes::from(format!("{message}\n")),
        )
    }

    fn generated(status: StatusCode, content_type: &str, body: Bytes) -> Self {
        let (mime_type, encoding) = split_content_type(content_type);
        InterceptedResponse {
            status: status.as_u16(),
            reason: reason(status),
            mime_type,
            encoding,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("content-length".into(), body.len().to_string()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: InterceptBody::bytes(body),
        }
    }
}

/// A response body read by blocking the current thread: the bus's [`BlockingBody`] (a
/// chunk is produced only after the previous one was taken; dropping it cancels the
/// handler), or bytes the host made itself.
pub struct InterceptBody {
    inner: BodyInner,
}

enum BodyInner {
    Bytes(Bytes),
    Stream(BlockingBody),
}

impl fmt::Debug for InterceptBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            BodyInner::Bytes(b) => f
                .debug_tuple("InterceptBody::Bytes")
                .field(&b.len())
                .finish(),
            BodyInner::Stream(s) => f.debug_tuple("InterceptBody::Stream").field(s).finish(),
        }
    }
}

impl InterceptBody {
    fn bytes(bytes: Bytes) -> Self {
        InterceptBody {
            inner: BodyInner::Bytes(bytes),
        }
    }

    fn empty() -> Self {
        Self::bytes(Bytes::new())
    }

    /// Blocks until the next chunk; `None` at the end.
    ///
    /// # Errors
    /// The handler's body failed midway (the engine sees an `IOException`).
    ///
    /// # Panics
    /// When called from inside an async runtime.
    pub fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        match &mut self.inner {
            BodyInner::Bytes(b) if b.is_empty() => None,
            BodyInner::Bytes(b) => Some(Ok(std::mem::take(b))),
            BodyInner::Stream(s) => s.next_chunk(),
        }
    }

    /// Reads the whole body (what the emulator does, since CDP cannot stream a fulfil).
    ///
    /// # Errors
    /// As [`next_chunk`](Self::next_chunk).
    pub fn read_all(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk() {
            out.extend_from_slice(&chunk.map_err(io::Error::other)?);
        }
        Ok(out)
    }
}

impl io::Read for InterceptBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            BodyInner::Bytes(b) => {
                let n = buf.len().min(b.len());
                b.copy_to_slice(&mut buf[..n]);
                Ok(n)
            }
            BodyInner::Stream(s) => s.read(buf),
        }
    }
}

impl AndroidHost {
    /// Answers what `shouldInterceptRequest` reports. Blocks the calling thread until the
    /// response head is there (Android calls this on a WebView worker thread); the body is
    /// then pulled by the engine.
    ///
    /// - `None` for URLs outside the app origin: the WebView loads them itself.
    /// - `GET`/`HEAD` (and CORS preflights) go to the bus, with a [`Caller`] from the
    ///   headers the engine attached ([`Caller::from_engine_headers`]: `Origin`, then
    ///   `Sec-Fetch-Site`, then `Referer`; a request nothing proves is anonymous and
    ///   reaches only public mounts). `isForMainFrame` never proves anything: a foreign
    ///   page navigating the top frame makes a main-frame request too.
    /// - Every response carries `X-Frame-Options: SAMEORIGIN` unless the app set its own:
    ///   foreign documents cannot frame the app's.
    /// - Any other method is answered `400` naming the problem ([`BODY_REFUSED`]): its body
    ///   was lost on the way, and a handler must not run on a silently empty body.
    /// - Redirects (`WebResourceResponse` refuses 3xx): a navigation gets a small HTML
    ///   page that navigates on (so the document's URL is the redirect's target); any other
    ///   request is followed here, up to 20 hops, same origin only.
    /// - Statuses Android refuses otherwise (1xx, other 3xx, over 599) become `502` naming
    ///   the status. `If-None-Match`/`If-Modified-Since` are removed so no `304` is made.
    /// - `GET <origin>/__bus/result/<token>` is answered from the form-result stash.
    ///
    /// # Panics
    /// When called from inside an async runtime (it blocks).
    pub fn intercept(&self, request: &InterceptedRequest) -> Option<InterceptedResponse> {
        let url = url::Url::parse(&request.url).ok()?;
        if url.origin() != self.inner.parsed {
            return None;
        }
        let Ok(method) = Method::from_bytes(request.method.as_bytes()) else {
            return Some(InterceptedResponse::text(
                StatusCode::BAD_REQUEST,
                &format!("invalid method {:?}", request.method),
            ));
        };
        let preflight = method == Method::OPTIONS
            && request
                .header_value("access-control-request-method")
                .is_some();
        if method != Method::GET && method != Method::HEAD && !preflight {
            return Some(InterceptedResponse::text(
                StatusCode::BAD_REQUEST,
                &format!("{method} {}: {BODY_REFUSED}", url.path()),
            ));
        }
        let caller = self.caller_for(request, &url);
        let response = match url.path().strip_prefix(RESULT_PREFIX) {
            Some(token) => self.stashed_result(token, &method, &caller),
            None => self.call_following(request, method, url, caller),
        };
        Some(deny_foreign_framing(response))
    }

    /// Who sent an intercepted request, from the headers the engine attached
    /// ([`Caller::from_engine_headers`]: fails closed — a request nothing proves is
    /// anonymous). `isForMainFrame` says what the request loads, not who asked for it: a
    /// foreign page setting `top.location` makes a main-frame request too, so it never
    /// grants the app's identity; it only marks the frame once the origin is proven.
    fn caller_for(&self, request: &InterceptedRequest, target: &url::Url) -> Caller {
        let headers: http::HeaderMap = request
            .headers
            .iter()
            .filter_map(|(n, v)| {
                Some((
                    HeaderName::from_bytes(n.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        let target = target.as_str().parse::<http::Uri>().unwrap_or_default();
        let caller = Caller::from_engine_headers(
            Transport::Intercept,
            &target,
            &headers,
            &self.inner.origin,
        );
        if request.is_main_frame && !caller.is_anonymous() {
            caller.with_frame(FrameKind::Main)
        } else {
            caller
        }
    }

    fn call_following(
        &self,
        request: &InterceptedRequest,
        method: Method,
        mut url: url::Url,
        caller: Caller,
    ) -> InterceptedResponse {
        let navigation = request.is_navigation();
        // A navigation may be redirected to an origin the navigation policy allows; any
        // other request stays on the app origin.
        let allowed = if navigation {
            self.inner.navigable.serialized()
        } else {
            Vec::new()
        };
        let mut hops = 0;
        loop {
            let http_request = match build(&method, &url, &request.headers, &caller) {
                Ok(r) => r,
                Err(message) => {
                    return InterceptedResponse::text(StatusCode::BAD_REQUEST, &message);
                }
            };
            let response = self.inner.bus.call_blocking(caller.clone(), http_request);
            let status = response.status();
            if !is_redirect(status) {
                return carry(response, &method);
            }
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| bus_shim::redirect_target(&url, l, &allowed));
            drop(response); // cancels whatever body the redirect had
            let next = match location {
                Some(Ok(next)) => Some(next),
                Some(Err(refused)) => {
                    return InterceptedResponse::text(
                        StatusCode::BAD_GATEWAY,
                        &format!("{method} {}: {refused}", url.path()),
                    );
                }
                None => None,
            };
            let Some(next) = next else {
                return InterceptedResponse::text(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "{} {}: the handler answered {status} without a usable Location, and Android cannot carry a 3xx",
                        method,
                        url.path()
                    ),
                );
            };
            if navigation {
                return navigate_page(&next);
            }
            if next.origin() != self.inner.parsed {
                return InterceptedResponse::text(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "{method} {}: redirect ({status}) to another origin ({}) cannot be followed from shouldInterceptRequest, and Android cannot carry a 3xx",
                        url.path(),
                        next.origin().ascii_serialization()
                    ),
                );
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return InterceptedResponse::text(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "{method} {}: more than {MAX_REDIRECTS} redirects",
                        url.path()
                    ),
                );
            }
            url = next;
        }
    }

    fn stashed_result(&self, token: &str, method: &Method, caller: &Caller) -> InterceptedResponse {
        if !caller.is_origin(&self.inner.origin) {
            return InterceptedResponse::text(
                StatusCode::FORBIDDEN,
                &format!(
                    "form results are shown only to {}, not {}",
                    self.inner.origin,
                    caller.origin().unwrap_or("an unknown origin")
                ),
            );
        }
        if *method != Method::GET {
            return InterceptedResponse::text(
                StatusCode::METHOD_NOT_ALLOWED,
                "a form result is shown by one GET navigation",
            );
        }
        let Some(entry) = self.inner.stash.take(token) else {
            return InterceptedResponse::text(
                StatusCode::GONE,
                "this page was the answer to a form submission; it was shown already or has expired, and cannot be shown again",
            );
        };
        let status = StatusCode::from_u16(entry.status).unwrap_or(StatusCode::OK);
        let mut headers = Vec::with_capacity(entry.headers.len() + 1);
        let mut content_type = None;
        for (name, value) in &entry.headers {
            if name == "cache-control" || name == "content-length" {
                continue;
            }
            let value = latin1(value);
            if name == "content-type" {
                content_type = Some(value.clone());
            }
            headers.push((name.clone(), value));
        }
        headers.push(("content-length".into(), entry.body.len().to_string()));
        headers.push(("cache-control".into(), "no-store".into()));
        let (mime_type, encoding) = content_type
            .as_deref()
            .map(split_content_type)
            .unwrap_or((None, None));
        let body = InterceptBody::bytes(entry.body);
        restrict(InterceptedResponse {
            status: status.as_u16(),
            reason: reason(status),
            mime_type,
            encoding,
            headers,
            body,
        })
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn build(
    method: &Method,
    url: &url::Url,
    headers: &[(String, String)],
    caller: &Caller,
) -> Result<Request<Body>, String> {
    let mut builder = Request::builder().method(method.clone()).uri(url.as_str());
    let map = builder
        .headers_mut()
        .ok_or_else(|| format!("invalid URL {url}"))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid request header name {name:?}"))?;
        if CONDITIONAL.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("invalid value for request header {name}"))?;
        map.append(name, value);
    }
    let mut request = builder
        .body(Body::empty())
        .map_err(|e| format!("invalid request {url}: {e}"))?;
    request.extensions_mut().insert(caller.clone());
    Ok(request)
}

/// App documents are not for foreign documents to frame (clickjacking; and a framed app
/// page's own requests carry the app's `Referer`, so they would act as the app's): every
/// intercepted response gets `X-Frame-Options: SAMEORIGIN` unless the app set its own
/// (the desktop host does the same). Chromium honours it on intercepted responses; a
/// `Content-Security-Policy: frame-ancestors` the app sets takes precedence there.
fn deny_foreign_framing(mut response: InterceptedResponse) -> InterceptedResponse {
    if response.header("x-frame-options").is_none() {
        response
            .headers
            .push(("x-frame-options".into(), "SAMEORIGIN".into()));
    }
    response
}

/// The bus's response as `WebResourceResponse` can take it.
fn carry(response: http::Response<BlockingBody>, method: &Method) -> InterceptedResponse {
    let (parts, body) = response.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), latin1(v.as_bytes())))
        .collect();
    let (mime_type, encoding) = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| split_content_type(&latin1(v.as_bytes())))
        .unwrap_or((None, None));
    // HEAD and the null-body statuses have no body, whatever the handler wrote.
    let null_body = matches!(parts.status.as_u16(), 204 | 205);
    let body = if *method == Method::HEAD || null_body {
        drop(body);
        InterceptBody::empty()
    } else {
        InterceptBody {
            inner: BodyInner::Stream(body),
        }
    };
    restrict(InterceptedResponse {
        status: parts.status.as_u16(),
        reason: reason(parts.status),
        mime_type,
        encoding,
        headers,
        body,
    })
}

/// Maps statuses `WebResourceResponse` refuses (it throws for < 100, > 599 and 300–399)
/// or that make no sense as a final answer (1xx) to a `502` naming them.
fn restrict(response: InterceptedResponse) -> InterceptedResponse {
    let status = response.status;
    let problem = match status {
        100..=199 => "an informational status is not a final response",
        300..=399 => "Android's WebResourceResponse refuses 300-399",
        600.. => "Android's WebResourceResponse refuses statuses over 599",
        _ => return response,
    };
    InterceptedResponse::text(
        StatusCode::BAD_GATEWAY,
        &format!("the handler answered {status}, which cannot be carried here: {problem}"),
    )
}

/// A `200` HTML page that goes on to `target` (already checked by
/// [`bus_shim::redirect_target`]), replacing itself in the history: what a navigation gets
/// for a redirect, since `WebResourceResponse` cannot carry a 3xx. It runs no script.
fn navigate_page(target: &url::Url) -> InterceptedResponse {
    InterceptedResponse::generated(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from(bus_shim::redirect_page(target)),
    )
}

/// A non-empty ASCII reason phrase, as `WebResourceResponse` requires.
fn reason(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Unknown").to_owned()
}

/// Header bytes as a Java-friendly string: each byte one char (Latin-1), as HTTP's
/// obs-text is.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// `text/html; charset=UTF-8` → (`text/html`, `UTF-8`).
fn split_content_type(value: &str) -> (Option<String>, Option<String>) {
    let mut parts = value.split(';');
    let mime = parts
        .next()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    });
    (mime, charset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_splits() {
        assert_eq!(
            split_content_type("Text/HTML; charset=\"UTF-8\""),
            (Some("text/html".into()), Some("UTF-8".into()))
        );
        assert_eq!(
            split_content_type("application/json"),
            (Some("application/json".into()), None)
        );
        assert_eq!(split_content_type(""), (None, None));
    }

    #[test]
    fn refused_statuses_become_502() {
        for s in [100u16, 101, 300, 304, 399, 600, 999] {
            let r = restrict(InterceptedResponse::text(
                StatusCode::from_u16(s).unwrap(),
                "x",
            ));
            assert_eq!(r.status, 502, "{s}");
        }
        for s in [200u16, 204, 206, 299, 400, 404, 599] {
            let r = restrict(InterceptedResponse::text(
                StatusCode::from_u16(s).unwrap(),
                "x",
            ));
            assert_eq!(r.status, s);
            assert!(!r.reason.is_empty() && r.reason.is_ascii());
        }
    }

    #[test]
    fn the_navigation_page_runs_no_script_and_escapes_its_target() {
        let url = url::Url::parse("https://app.invalid/a?x=\"</script><b>&y='").unwrap();
        let page = navigate_page(&url);
        let body = String::from_utf8(page.body.read_all().unwrap()).unwrap();
        assert!(!body.contains("<script"), "{body}");
        assert!(!body.contains("<b>"), "{body}");
        assert!(
            body.contains("url=https://app.invalid/a?x=%22%3C/script%3E%3Cb%3E&amp;y=%27\""),
            "{body}"
        );
    }

    #[test]
    fn header_map_joins_repeats() {
        let mut r = InterceptedResponse::text(StatusCode::OK, "x");
        r.headers.push(("x-multi".into(), "a".into()));
        r.headers.push(("x-multi".into(), "b".into()));
        assert_eq!(r.header_map()["x-multi"], "a, b");
    }
}
