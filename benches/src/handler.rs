//! The handlers every path serves: an axum `Router` (a tiny route and a bytes route) and a
//! bare `tower::Service` answering the same tiny body.
//!
//! The same values are mounted on the bus (in process and behind the framed port) and
//! served by hyper over loopback TCP, so every path does the same handler work.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, header};
use http_body::{Frame, SizeHint};
use http_body_util::Full;

/// Body chunks are this large (what `ServeDir` and the memory test use).
pub(crate) const CHUNK: usize = 64 * 1024;

/// Distinct chunks in the source; chunk `i` of a body is block `(i * 7) % BLOCKS`.
const BLOCKS: usize = 16;

/// The tiny GET's response body.
pub(crate) const TINY_BODY: &str = "hello, world";

/// 1 MiB of pseudo-random bytes, 64-byte aligned: the source every body is sliced from
/// (by reference, never copied by the handler).
pub(crate) fn source() -> Bytes {
    let len = CHUNK * BLOCKS;
    let mut buf = vec![0u8; len + 64];
    let start = buf.as_ptr().align_offset(64).min(64);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for word in buf[start..start + len].chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes());
    }
    Bytes::from(buf).slice(start..start + len)
}

/// The `i`-th chunk of a body (full size; callers cut the last one short).
pub(crate) fn chunk(source: &Bytes, i: usize) -> Bytes {
    let at = ((i * 7) % BLOCKS) * CHUNK;
    source.slice(at..at + CHUNK)
}

/// The router: `GET /tiny` answers [`TINY_BODY`]; `GET /bytes/{n}` streams `n` bytes in
/// [`CHUNK`]-sized slices of `source`, with an exact length (so hyper sends
/// `Content-Length`, not chunked encoding).
pub(crate) fn router(source: Bytes) -> Router {
    Router::new()
        .route("/tiny", get(|| async { TINY_BODY }))
        .route(
            "/bytes/{n}",
            get(move |Path(n): Path<u64>| {
                let source = source.clone();
                async move {
                    Response::builder()
                        .header(header::CONTENT_TYPE, "application/octet-stream")
                        .body(axum::body::Body::new(Repeat {
                            source,
                            left: n,
                            index: 0,
                        }))
                        .expect("a valid response")
                }
            }),
        )
}

/// The bare handler: any request, answered 200 with [`TINY_BODY`]; no routing, no
/// extractors, no allocation beyond the response itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bare;

impl<B> tower::Service<Request<B>> for Bare {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        ready(Ok(Response::new(Full::new(Bytes::from_static(
            TINY_BODY.as_bytes(),
        )))))
    }
}

/// A body of `left` bytes made of slices of the source: no channel, no task, no copy.
struct Repeat {
    source: Bytes,
    left: u64,
    index: usize,
}

impl http_body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let mut data = chunk(&this.source, this.index);
        if (data.len() as u64) > this.left {
            data.truncate(this.left as usize);
        }
        this.left -= data.len() as u64;
        this.index += 1;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[test]
    fn the_source_is_aligned_and_not_uniform() {
        let s = source();
        assert_eq!(s.len(), CHUNK * BLOCKS);
        assert_eq!(s.as_ptr() as usize % 64, 0);
        assert_ne!(chunk(&s, 0), chunk(&s, 1));
    }

    #[test]
    fn bytes_route_streams_exactly_n_bytes() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let app = router(source());
            for n in [1u64, 1000, CHUNK as u64, CHUNK as u64 * 3 + 5] {
                let req = http::Request::get(format!("/bytes/{n}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                let res = app.clone().oneshot(req).await.unwrap();
                assert_eq!(res.status(), 200);
                assert_eq!(http_body::Body::size_hint(res.body()).exact(), Some(n));
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body.len() as u64, n);
            }
        });
    }
}
