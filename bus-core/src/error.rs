//! [`BusError`]: every way a request can fail on the bus, each with its HTTP status.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{Body, BoxError};

/// Why the bus could not answer a request with the handler's own response.
///
/// [`BusHandle::call`](crate::BusHandle::call) turns each into an HTTP response whose
/// status is [`BusError::status`] and whose plain-text body is the error's message; the
/// error itself rides in that response's extensions as `Arc<BusError>`, so Rust callers can
/// match on it. [`BusHandle::try_call`](crate::BusHandle::try_call) returns it directly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// No mount matches the request's scheme, host and path. → 404
    #[error("no route for {method} {path}")]
    NoRoute {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
    },
    /// The mount's [`Policy`](crate::Policy) refused the caller. → 403
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request line and headers are over [`Limits::max_header_bytes`](crate::Limits). → 431
    #[error("request headers are {size} bytes, over the limit of {limit} bytes")]
    HeadersTooLarge {
        /// Bytes counted (method, URI, and each header as `name: value\r\n`).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The request body is over the mount's limit. → 413
    #[error("request body of {size} bytes is over this route's limit of {limit} bytes")]
    BodyTooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// [`Limits::max_in_flight`](crate::Limits) requests are already running. → 503 with `Retry-After`
    #[error("too many requests in flight (limit {limit}); retry shortly")]
    Overloaded {
        /// The limit.
        limit: usize,
    },
    /// The handler did not produce a response head in time. → 504
    #[error("the handler did not answer within {0:?}")]
    Timeout(Duration),
    /// The bus is shut down, or shutting down gracefully and admitting no new request. → 503
    #[error("the bus is shut down")]
    Closed,
    /// The request is not valid HTTP (bad method, URI, header name or value). → 400
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which part was wrong.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The handler returned an error instead of a response. → 500
    #[error("the handler failed: {0}")]
    Handler(#[source] BoxError),
    /// The handler panicked; the bus caught it and kept running. → 500
    #[error("the handler panicked: {0}")]
    Panicked(String),
}

impl BusError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            BusError::NoRoute { .. } => StatusCode::NOT_FOUND,
            BusError::Forbidden(_) => StatusCode::FORBIDDEN,
            BusError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            BusError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BusError::Overloaded { .. } | BusError::Closed => StatusCode::SERVICE_UNAVAILABLE,
            BusError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            BusError::Malformed { .. } => StatusCode::BAD_REQUEST,
            BusError::Handler(_) | BusError::Panicked(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as an HTTP response: its status, a plain-text body naming the problem,
    /// `Retry-After` where a retry can help, and the error in the extensions.
    pub fn into_response(self) -> Response<Body> {
        let mut message = self.to_string();
        message.push('\n');
        let mut response = Response::new(Body::from(message));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(self, BusError::Overloaded { .. }) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn an_error_response_names_the_problem() {
        let response = BusError::Overloaded { limit: 3 }.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(response.extensions().get::<Arc<BusError>>().is_some());
        let text = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            text,
            "too many requests in flight (limit 3); retry shortly\n"
        );
    }
}
