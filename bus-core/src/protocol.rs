//! The wire protocol bridges speak: [`Frame`]s, their byte encoding, and their limits.
//!
//! `docs/PROTOCOL.md` is the normative description, byte by byte; this module is its Rust
//! implementation and `protocol/vectors/` holds the golden frames every implementation
//! (Rust, JS, Java, C) must decode and re-encode identically.
//!
//! An encoded frame is one bridge message: a version byte ([`VERSION`]) followed by the
//! frame in bincode 2's serde encoding with the fixed configuration [`config`]
//! (little-endian, fixed-width integers, lengths as `u64`). Data payloads are borrowed from
//! the input when decoding ([`decode`] slices the given [`Bytes`], no copy), and copied once
//! into the output when encoding.

use bincode::config::{Configuration, Fixint, LittleEndian, NoLimit};
use bytes::{BufMut, Bytes};
#[cfg(test)]
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks; the first byte of every frame.
pub const VERSION: u8 = 1;

/// Largest data payload a frame may carry (1 MiB).
pub const MAX_DATA: usize = 1 << 20;

/// Largest encoded frame, version byte included (1 MiB + 64 KiB: one full data payload
/// plus room for the envelope, or a head of up to 64 KiB).
pub const MAX_FRAME: usize = MAX_DATA + 64 * 1024;

/// Credit, in bytes, that the bus grants every request body before any `Credit` frame
/// (the initial upload window).
pub const INITIAL_UPLOAD_WINDOW: u32 = 256 * 1024;

/// Stream id 0 is reserved for errors about the session itself.
pub const SESSION_STREAM: u32 = 0;

/// The bincode configuration of the protocol: little-endian, fixed-width integers.
pub fn config() -> Configuration<LittleEndian, Fixint, NoLimit> {
    bincode::config::legacy()
}

/// A header as it crosses the wire: a lower-case name and raw value bytes.
pub type WireHeader = (String, Bytes);

/// One protocol frame. Streams are numbered by the page (non-zero `u32`), one per request.
///
/// Page → bus: `RequestHead`, `RequestData`, `RequestEnd`, `Cancel`, `Credit`.
/// Bus → page: `ResponseHead`, `ResponseData`, `ResponseEnd`, `Response` (only to a session
/// that asked for it), `Credit`, `Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// Opens stream `stream` with a request.
    RequestHead {
        /// The new stream's id (non-zero, unused in this session).
        stream: u32,
        /// Method, e.g. `GET`.
        method: String,
        /// Absolute URI (`app://localhost/api/x?y`) or origin-form path (`/api/x?y`).
        uri: String,
        /// Request headers in order; names lower case.
        headers: Vec<WireHeader>,
        /// `true` when there is no request body (no `RequestData`/`RequestEnd` follow).
        end_stream: bool,
        /// Bytes of response body the page accepts before its first `Credit`.
        window: u32,
    },
    /// A piece of the request body (at most [`MAX_DATA`] bytes, within upload credit).
    RequestData {
        /// Stream id.
        stream: u32,
        /// The bytes.
        data: Bytes,
    },
    /// The request body is complete.
    RequestEnd {
        /// Stream id.
        stream: u32,
    },
    /// The response status and headers.
    ResponseHead {
        /// Stream id.
        stream: u32,
        /// HTTP status code.
        status: u16,
        /// Response headers in order; names lower case.
        headers: Vec<WireHeader>,
    },
    /// A piece of the response body (at most [`MAX_DATA`] bytes, within the page's credit).
    ResponseData {
        /// Stream id.
        stream: u32,
        /// The bytes.
        data: Bytes,
    },
    /// The response body is complete; the stream is closed.
    ResponseEnd {
        /// Stream id.
        stream: u32,
    },
    /// A whole response in one frame: what `ResponseHead`, `ResponseData` (when `data` is
    /// not empty) and `ResponseEnd` would say; the stream is closed. Sent only to a session
    /// whose page takes it ([`SessionConfig::whole_responses`](crate::port::SessionConfig::whole_responses)),
    /// for a body complete at once that fits the page's window.
    Response {
        /// Stream id.
        stream: u32,
        /// HTTP status code.
        status: u16,
        /// Response headers in order; names lower case.
        headers: Vec<WireHeader>,
        /// The whole body (at most [`MAX_DATA`] bytes, within the page's credit).
        data: Bytes,
    },
    /// The page gives up on the stream; the bus drops the handler and answers nothing more.
    Cancel {
        /// Stream id.
        stream: u32,
    },
    /// Grants the other side `bytes` more bytes of body data on `stream`.
    Credit {
        /// Stream id.
        stream: u32,
        /// Additional bytes allowed.
        bytes: u32,
    },
    /// The stream (or, for stream 0, the frame that could not be attributed) failed.
    Error {
        /// Stream id, or [`SESSION_STREAM`].
        stream: u32,
        /// What went wrong.
        code: ErrorCode,
        /// A human-readable explanation.
        message: String,
    },
}

impl Frame {
    /// The stream this frame belongs to.
    pub fn stream(&self) -> u32 {
        match self {
            Frame::RequestHead { stream, .. }
            | Frame::RequestData { stream, .. }
            | Frame::RequestEnd { stream }
            | Frame::ResponseHead { stream, .. }
            | Frame::ResponseData { stream, .. }
            | Frame::ResponseEnd { stream }
            | Frame::Response { stream, .. }
            | Frame::Cancel { stream }
            | Frame::Credit { stream, .. }
            | Frame::Error { stream, .. } => *stream,
        }
    }

    /// The frame's name, as in `docs/PROTOCOL.md`.
    pub fn name(&self) -> &'static str {
        match self {
            Frame::RequestHead { .. } => "RequestHead",
            Frame::RequestData { .. } => "RequestData",
            Frame::RequestEnd { .. } => "RequestEnd",
            Frame::ResponseHead { .. } => "ResponseHead",
            Frame::ResponseData { .. } => "ResponseData",
            Frame::ResponseEnd { .. } => "ResponseEnd",
            Frame::Response { .. } => "Response",
            Frame::Cancel { .. } => "Cancel",
            Frame::Credit { .. } => "Credit",
            Frame::Error { .. } => "Error",
        }
    }

    /// An `Error` frame.
    pub fn error(stream: u32, code: ErrorCode, message: impl Into<String>) -> Frame {
        Frame::Error {
            stream,
            code,
            message: message.into(),
        }
    }

    #[cfg(test)]
    fn as_wire(&self) -> Wire<'_> {
        fn heads(h: &[WireHeader]) -> Vec<(&str, &[u8])> {
            h.iter().map(|(n, v)| (n.as_str(), v.as_ref())).collect()
        }
        match self {
            Frame::RequestHead {
                stream,
                method,
                uri,
                headers,
                end_stream,
                window,
            } => Wire::RequestHead {
                stream: *stream,
                method,
                uri,
                headers: heads(headers),
                end_stream: *end_stream,
                window: *window,
            },
            Frame::RequestData { stream, data } => Wire::RequestData {
                stream: *stream,
                data,
            },
            Frame::RequestEnd { stream } => Wire::RequestEnd { stream: *stream },
            Frame::ResponseHead {
                stream,
                status,
                headers,
            } => Wire::ResponseHead {
                stream: *stream,
                status: *status,
                headers: heads(headers),
            },
            Frame::ResponseData { stream, data } => Wire::ResponseData {
                stream: *stream,
                data,
            },
            Frame::ResponseEnd { stream } => Wire::ResponseEnd { stream: *stream },
            Frame::Response {
                stream,
                status,
                headers,
                data,
            } => Wire::Response {
                stream: *stream,
                status: *status,
                headers: heads(headers),
                data,
            },
            Frame::Cancel { stream } => Wire::Cancel { stream: *stream },
            Frame::Credit { stream, bytes } => Wire::Credit {
                stream: *stream,
                bytes: *bytes,
            },
            Frame::Error {
                stream,
                code,
                message,
            } => Wire::Error {
                stream: *stream,
                code: code.to_u16(),
                message,
            },
        }
    }
}

/// Error codes of `Error` frames. Codes are stable; new ones may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The bytes are not a frame (bad variant, truncated, trailing bytes, bad UTF-8). `1`
    Malformed,
    /// The version byte is not [`VERSION`]. `2`
    UnsupportedVersion,
    /// The frame is over [`MAX_FRAME`] or its data over [`MAX_DATA`]. `3`
    FrameTooLarge,
    /// No open stream has this id. `4`
    UnknownStream,
    /// A `RequestHead` reused an id that is open, or used 0. `5`
    StreamIdInUse,
    /// A frame that this side may not receive, or not in this state (data after end). `6`
    Protocol,
    /// Body data beyond the credit granted. `7`
    FlowControl,
    /// The request head is not valid HTTP (method, URI, header name or value). `8`
    InvalidHead,
    /// The session has its maximum number of open streams. `9`
    TooManyStreams,
    /// The response body failed after its head was sent. `10`
    BodyFailed,
    /// The bus shut down. `11`
    Shutdown,
    /// An internal error in the bus. `12`
    Internal,
    /// A code this implementation does not know (kept as received).
    Other(u16),
}

impl ErrorCode {
    /// The code's number on the wire.
    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::Malformed => 1,
            ErrorCode::UnsupportedVersion => 2,
            ErrorCode::FrameTooLarge => 3,
            ErrorCode::UnknownStream => 4,
            ErrorCode::StreamIdInUse => 5,
            ErrorCode::Protocol => 6,
            ErrorCode::FlowControl => 7,
            ErrorCode::InvalidHead => 8,
            ErrorCode::TooManyStreams => 9,
            ErrorCode::BodyFailed => 10,
            ErrorCode::Shutdown => 11,
            ErrorCode::Internal => 12,
            ErrorCode::Other(n) => n,
        }
    }

    /// The code for a number from the wire.
    pub fn from_u16(code: u16) -> Self {
        match code {
            1 => ErrorCode::Malformed,
            2 => ErrorCode::UnsupportedVersion,
            3 => ErrorCode::FrameTooLarge,
            4 => ErrorCode::UnknownStream,
            5 => ErrorCode::StreamIdInUse,
            6 => ErrorCode::Protocol,
            7 => ErrorCode::FlowControl,
            8 => ErrorCode::InvalidHead,
            9 => ErrorCode::TooManyStreams,
            10 => ErrorCode::BodyFailed,
            11 => ErrorCode::Shutdown,
            12 => ErrorCode::Internal,
            n => ErrorCode::Other(n),
        }
    }
}

/// The serde shape of a frame, which [`encode`] and [`decode`] write and read by hand;
/// the tests hold them to bincode's encoding of it.
#[cfg(test)]
#[derive(Serialize, Deserialize)]
enum Wire<'a> {
    RequestHead {
        stream: u32,
        method: &'a str,
        uri: &'a str,
        #[serde(borrow)]
        headers: Vec<(&'a str, &'a [u8])>,
        end_stream: bool,
        window: u32,
    },
    RequestData {
        stream: u32,
        #[serde(with = "serde_bytes")]
        data: &'a [u8],
    },
    RequestEnd {
        stream: u32,
    },
    ResponseHead {
        stream: u32,
        status: u16,
        #[serde(borrow)]
        headers: Vec<(&'a str, &'a [u8])>,
    },
    ResponseData {
        stream: u32,
        #[serde(with = "serde_bytes")]
        data: &'a [u8],
    },
    ResponseEnd {
        stream: u32,
    },
    Cancel {
        stream: u32,
    },
    Credit {
        stream: u32,
        bytes: u32,
    },
    Error {
        stream: u32,
        code: u16,
        message: &'a str,
    },
    Response {
        stream: u32,
        status: u16,
        #[serde(borrow)]
        headers: Vec<(&'a str, &'a [u8])>,
        #[serde(with = "serde_bytes")]
        data: &'a [u8],
    },
}

/// Why bytes could not be decoded into a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is empty.
    #[error("empty frame")]
    Empty,
    /// The version byte is not [`VERSION`].
    #[error("unsupported protocol version {0} (this side speaks {VERSION})")]
    UnsupportedVersion(u8),
    /// The frame is over [`MAX_FRAME`] bytes, or its data over [`MAX_DATA`].
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The bytes after the version are not a frame.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// The error code an `Error` frame reports this with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Empty | DecodeError::Malformed(_) => ErrorCode::Malformed,
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            DecodeError::TooLarge(_) => ErrorCode::FrameTooLarge,
        }
    }
}

/// Decodes one frame. Data payloads are slices of `input` (no copy).
///
/// Sizes are checked before anything is allocated: the whole input against [`MAX_FRAME`]
/// first, then every length prefix against the bytes actually left.
///
/// ```
/// use bus_core::protocol::{decode, encode, Frame};
///
/// let frame = Frame::Credit { stream: 3, bytes: 65536 };
/// let bytes = encode(&frame);
/// assert_eq!(decode(bytes).unwrap(), frame);
/// ```
///
/// # Errors
/// [`DecodeError`] naming what is wrong; nothing panics, whatever the input.
pub fn decode(input: Bytes) -> Result<Frame, DecodeError> {
    let &version = input.first().ok_or(DecodeError::Empty)?;
    if input.len() > MAX_FRAME {
        return Err(DecodeError::TooLarge(input.len()));
    }
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let mut r = Reader {
        input: &input,
        pos: 1,
    };
    let variant = r.u32("the frame type")?;
    let stream = r.u32("the stream id")?;
    let frame = match variant {
        0 => {
            let method = r.string("the method")?;
            let uri = r.string("the URI")?;
            let headers = r.headers()?;
            let end_stream = r.bool("end_stream")?;
            let window = r.u32("the window")?;
            Frame::RequestHead {
                stream,
                method,
                uri,
                headers,
                end_stream,
                window,
            }
        }
        1 | 4 => {
            let data = r.data()?;
            r.end()?;
            let data = tail(input, data);
            return Ok(if variant == 1 {
                Frame::RequestData { stream, data }
            } else {
                Frame::ResponseData { stream, data }
            });
        }
        2 => Frame::RequestEnd { stream },
        3 => {
            let status = r.u16("the status")?;
            let headers = r.headers()?;
            Frame::ResponseHead {
                stream,
                status,
                headers,
            }
        }
        5 => Frame::ResponseEnd { stream },
        6 => Frame::Cancel { stream },
        7 => Frame::Credit {
            stream,
            bytes: r.u32("the credit")?,
        },
        8 => {
            let code = ErrorCode::from_u16(r.u16("the error code")?);
            let message = r.string("the message")?;
            Frame::Error {
                stream,
                code,
                message,
            }
        }
        9 => {
            let status = r.u16("the status")?;
            let headers = r.headers()?;
            let data = r.data()?;
            r.end()?;
            return Ok(Frame::Response {
                stream,
                status,
                headers,
                data: tail(input, data),
            });
        }
        n => {
            return Err(DecodeError::Malformed(format!(
                "unknown frame type (variant index {n}, expected 0 to 9)"
            )));
        }
    };
    r.end()?;
    Ok(frame)
}

/// The frame's data, which ends the frame (`range` ends where `input` does, as
/// [`Reader::end`] checked): the input itself with the bytes before it skipped. A slice
/// would do the same, but the first slice of a buffer made from a `Vec` allocates the
/// count that shares it; skipping does not (issue 16).
fn tail(mut input: Bytes, range: std::ops::Range<usize>) -> Bytes {
    debug_assert_eq!(range.end, input.len());
    bytes::Buf::advance(&mut input, range.start);
    input
}

/// A `RequestHead` read in place by [`decode_head`]: its text borrowed from the frame,
/// checked as UTF-8 once.
pub(crate) struct HeadRef<'a> {
    pub(crate) stream: u32,
    pub(crate) method: &'a str,
    pub(crate) uri: &'a str,
    /// Name of each header, and where its value is in the frame.
    pub(crate) headers: Vec<(&'a str, std::ops::Range<usize>)>,
    pub(crate) end_stream: bool,
    pub(crate) window: u32,
}

/// Whether `input` is enveloped as a `RequestHead` (version and frame type; the rest is
/// not read).
pub(crate) fn is_request_head(input: &[u8]) -> bool {
    input.first() == Some(&VERSION) && input.get(1..5) == Some(&[0, 0, 0, 0][..])
}

/// Reads a `RequestHead` without copying its method, URI or header names out of the
/// frame (the port builds the `http::Request` from slices of it); `None` when `input` is
/// not a well-enveloped `RequestHead`, for [`decode`] to read or name what is wrong.
///
/// The checks are [`decode`]'s, in its order, so a bad head gets the same error.
pub(crate) fn decode_head(input: &Bytes) -> Option<Result<HeadRef<'_>, DecodeError>> {
    if input.len() > MAX_FRAME || input.first() != Some(&VERSION) {
        return None;
    }
    let mut r = Reader { input, pos: 1 };
    if r.u32("the frame type").ok()? != 0 {
        return None;
    }
    let stream = r.u32("the stream id").ok()?;
    Some((|| {
        let method = r.str("the method")?;
        let uri = r.str("the URI")?;
        let count = r.header_count()?;
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.str("a header name")?;
            headers.push((name, r.slice("a header value")?));
        }
        let end_stream = r.bool("end_stream")?;
        let window = r.u32("the window")?;
        r.end()?;
        Ok(HeadRef {
            stream,
            method,
            uri,
            headers,
            end_stream,
            window,
        })
    })())
}

/// Reads [`config`]'s layout by hand (as `bridge-js`'s codec does): every length is
/// checked against the bytes actually left before anything is allocated or sliced, so no
/// input can make it reserve more than the frame holds.
struct Reader<'a> {
    input: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    // The readers are small and called a dozen times per frame: inlined, with the error
    // text built out of line only when a frame is bad (issue 16: ~40 instructions per
    // integer read before).
    #[inline]
    fn take(&mut self, n: u64, what: &str) -> Result<std::ops::Range<usize>, DecodeError> {
        let left = self.input.len() - self.pos;
        if n > left as u64 {
            return Err(self.short(n, what));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(start..self.pos)
    }

    #[cold]
    #[inline(never)]
    fn short(&self, n: u64, what: &str) -> DecodeError {
        let left = self.input.len() - self.pos;
        DecodeError::Malformed(if n > MAX_FRAME as u64 {
            format!("{what}: a length prefix ({n}) is larger than any frame")
        } else {
            format!(
                "truncated: {what} needs {n} bytes at offset {}, {left} left",
                self.pos
            )
        })
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        match self
            .input
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(bytes) => {
                self.pos += N;
                Ok(*bytes)
            }
            None => Err(self.short(N as u64, what)),
        }
    }

    #[inline]
    fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    #[inline]
    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    #[inline]
    fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    #[inline]
    fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        match self.array::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::Malformed(format!(
                "a bool byte ({what}) is {v}, not 0 or 1"
            ))),
        }
    }

    #[inline]
    fn slice(&mut self, what: &str) -> Result<std::ops::Range<usize>, DecodeError> {
        let n = self.u64(what)?;
        self.take(n, what)
    }

    /// A length-prefixed string, checked to be UTF-8, borrowed from the input.
    fn str(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let range = self.slice(what)?;
        let input: &'a Bytes = self.input;
        std::str::from_utf8(&input[range])
            .map_err(|_| DecodeError::Malformed(format!("{what} is not valid UTF-8")))
    }

    /// The bytes left after the frame: none, or the frame is malformed.
    fn end(&self) -> Result<(), DecodeError> {
        let left = self.input.len() - self.pos;
        if left != 0 {
            return Err(DecodeError::Malformed(format!(
                "{left} trailing bytes after the frame"
            )));
        }
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        self.str(what).map(str::to_owned)
    }

    /// Where the data is: the frame's last field, taken with [`tail`] once the frame is
    /// read.
    fn data(&mut self) -> Result<std::ops::Range<usize>, DecodeError> {
        let range = self.slice("the data")?;
        if range.len() > MAX_DATA {
            return Err(DecodeError::TooLarge(range.len()));
        }
        Ok(range)
    }

    /// A header count, checked against the bytes left before anything is reserved.
    fn header_count(&mut self) -> Result<usize, DecodeError> {
        let count = self.u64("the header count")?;
        // Each header takes at least its two 8-byte lengths.
        let left = (self.input.len() - self.pos) as u64;
        if count > left / 16 {
            return Err(DecodeError::Malformed(format!(
                "{count} headers cannot fit in the {left} bytes left"
            )));
        }
        Ok(count as usize)
    }

    fn headers(&mut self) -> Result<Vec<WireHeader>, DecodeError> {
        let count = self.header_count()?;
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let name = self.string("a header name")?;
            let value = self.slice("a header value")?;
            headers.push((name, self.input.slice(value)));
        }
        Ok(headers)
    }
}

/// Encodes one frame (the payload is copied once, into the returned buffer).
///
/// Written out by hand in [`config`]'s layout (a `u32` variant index, fixed-width
/// little-endian integers, `u64` lengths) into one buffer of the exact size: serde's
/// generic path allocated a header list per head and grew the buffer. The golden vectors
/// and a test against bincode's own encoding hold it to the same bytes.
pub fn encode(frame: &Frame) -> Bytes {
    let mut out = Vec::with_capacity(encoded_len(frame));
    out.push(VERSION);
    let tag = |out: &mut Vec<u8>, variant: u32, stream: u32| {
        out.extend_from_slice(&variant.to_le_bytes());
        out.extend_from_slice(&stream.to_le_bytes());
    };
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    };
    let headers = |out: &mut Vec<u8>, h: &[WireHeader]| {
        out.extend_from_slice(&(h.len() as u64).to_le_bytes());
        for (name, value) in h {
            bytes(out, name.as_bytes());
            bytes(out, value);
        }
    };
    match frame {
        Frame::RequestHead {
            stream,
            method,
            uri,
            headers: h,
            end_stream,
            window,
        } => {
            tag(&mut out, 0, *stream);
            bytes(&mut out, method.as_bytes());
            bytes(&mut out, uri.as_bytes());
            headers(&mut out, h);
            out.push(u8::from(*end_stream));
            out.extend_from_slice(&window.to_le_bytes());
        }
        Frame::RequestData { stream, data } => {
            tag(&mut out, 1, *stream);
            bytes(&mut out, data);
        }
        Frame::RequestEnd { stream } => tag(&mut out, 2, *stream),
        Frame::ResponseHead {
            stream,
            status,
            headers: h,
        } => {
            tag(&mut out, 3, *stream);
            out.extend_from_slice(&status.to_le_bytes());
            headers(&mut out, h);
        }
        Frame::ResponseData { stream, data } => {
            tag(&mut out, 4, *stream);
            bytes(&mut out, data);
        }
        Frame::ResponseEnd { stream } => tag(&mut out, 5, *stream),
        Frame::Response {
            stream,
            status,
            headers: h,
            data,
        } => {
            tag(&mut out, 9, *stream);
            out.extend_from_slice(&status.to_le_bytes());
            headers(&mut out, h);
            bytes(&mut out, data);
        }
        Frame::Cancel { stream } => tag(&mut out, 6, *stream),
        Frame::Credit { stream, bytes } => {
            tag(&mut out, 7, *stream);
            out.extend_from_slice(&bytes.to_le_bytes());
        }
        Frame::Error {
            stream,
            code,
            message,
        } => {
            tag(&mut out, 8, *stream);
            out.extend_from_slice(&code.to_u16().to_le_bytes());
            bytes(&mut out, message.as_bytes());
        }
    }
    debug_assert_eq!(out.len(), encoded_len(frame));
    Bytes::from(out)
}

/// Encodes a `RequestHead` frame from borrowed parts: the bytes [`encode`] makes of
/// [`Frame::RequestHead`] with these fields, without making the frame (no `String` per
/// field or header). For Rust clients of the frame protocol (tests, tools, benchmarks).
///
/// ```
/// use bus_core::protocol::{decode, encode_request_head, Frame};
///
/// let bytes = encode_request_head(3, "GET", "/hello", &[("accept", b"text/plain")], true, 65536);
/// assert_eq!(
///     decode(bytes).unwrap(),
///     Frame::RequestHead {
///         stream: 3,
///         method: "GET".into(),
///         uri: "/hello".into(),
///         headers: vec![("accept".into(), "text/plain".into())],
///         end_stream: true,
///         window: 65536,
///     }
/// );
/// ```
pub fn encode_request_head(
    stream: u32,
    method: &str,
    uri: &str,
    headers: &[(&str, &[u8])],
    end_stream: bool,
    window: u32,
) -> Bytes {
    let header_bytes: usize = headers.iter().map(|(n, v)| 16 + n.len() + v.len()).sum();
    let len = 9 + 16 + method.len() + uri.len() + 8 + header_bytes + 1 + 4;
    let mut out = Vec::with_capacity(len);
    write_request_head(&mut out, stream, method, uri, headers, end_stream, window);
    debug_assert_eq!(out.len(), len);
    Bytes::from(out)
}

/// [`encode_request_head`] into a buffer the caller keeps (appended): a client that sends
/// many heads reuses one buffer, and hands the port each frame with
/// [`Session::receive_slice`](crate::port::Session::receive_slice).
///
/// ```
/// use bus_core::protocol::{encode_request_head, write_request_head};
///
/// let mut buf = Vec::new();
/// write_request_head(&mut buf, 3, "GET", "/hello", &[], true, 65536);
/// assert_eq!(buf, encode_request_head(3, "GET", "/hello", &[], true, 65536));
/// ```
pub fn write_request_head(
    out: &mut Vec<u8>,
    stream: u32,
    method: &str,
    uri: &str,
    headers: &[(&str, &[u8])],
    end_stream: bool,
    window: u32,
) {
    out.push(VERSION);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&stream.to_le_bytes());
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    };
    bytes(out, method.as_bytes());
    bytes(out, uri.as_bytes());
    out.extend_from_slice(&(headers.len() as u64).to_le_bytes());
    for (name, value) in headers {
        bytes(out, name.as_bytes());
        bytes(out, value);
    }
    out.push(u8::from(end_stream));
    out.extend_from_slice(&window.to_le_bytes());
}

/// Encodes a `Response` frame straight from a response's head: the bytes [`encode`] makes
/// of [`Frame::Response`] with `status`, every header of `headers` in the map's order
/// (names as [`http::HeaderName::as_str`] gives them) and `data`, without making the frame
/// (no `String` or copy per header).
///
/// ```
/// use bus_core::protocol::{decode, encode_response, Frame};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("content-type", "text/plain".parse().unwrap());
/// let bytes = encode_response(5, http::StatusCode::OK, &headers, b"hi");
/// assert_eq!(
///     decode(bytes).unwrap(),
///     Frame::Response {
///         stream: 5,
///         status: 200,
///         headers: vec![("content-type".into(), "text/plain".into())],
///         data: "hi".into(),
///     }
/// );
/// ```
pub fn encode_response(
    stream: u32,
    status: http::StatusCode,
    headers: &http::HeaderMap,
    data: &[u8],
) -> Bytes {
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| 16 + n.as_str().len() + v.len())
        .sum();
    let len = 9 + 2 + 8 + header_bytes + 8 + data.len();
    // A small answer (most are) is cut from the thread's scratch buffer: no allocation of
    // its own (issue 16).
    crate::scratch::piece(len, |out| {
        // The fixed fields in one write: each `put` checks the room left.
        let mut fixed = [0u8; 19];
        fixed[0] = VERSION;
        fixed[1..5].copy_from_slice(&9u32.to_le_bytes());
        fixed[5..9].copy_from_slice(&stream.to_le_bytes());
        fixed[9..11].copy_from_slice(&status.as_u16().to_le_bytes());
        fixed[11..19].copy_from_slice(&(headers.len() as u64).to_le_bytes());
        out.put_slice(&fixed);
        let mut bytes = |b: &[u8]| {
            out.put_u64_le(b.len() as u64);
            out.put_slice(b);
        };
        for (name, value) in headers {
            bytes(name.as_str().as_bytes());
            bytes(value.as_bytes());
        }
        bytes(data);
    })
}

/// The exact length [`encode`] produces: version, variant and stream, then the fields.
fn encoded_len(frame: &Frame) -> usize {
    let headers =
        |h: &[WireHeader]| 8 + h.iter().map(|(n, v)| 16 + n.len() + v.len()).sum::<usize>();
    9 + match frame {
        Frame::RequestHead {
            method,
            uri,
            headers: h,
            ..
        } => 16 + method.len() + uri.len() + headers(h) + 1 + 4,
        Frame::RequestData { data, .. } | Frame::ResponseData { data, .. } => 8 + data.len(),
        Frame::ResponseHead { headers: h, .. } => 2 + headers(h),
        Frame::Response {
            headers: h, data, ..
        } => 2 + headers(h) + 8 + data.len(),
        Frame::RequestEnd { .. } | Frame::ResponseEnd { .. } | Frame::Cancel { .. } => 0,
        Frame::Credit { .. } => 4,
        Frame::Error { message, .. } => 2 + 8 + message.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Response` encoded from a response's head is the one `encode` makes of the frame
    /// with the same headers, in the map's order: repeated names, values that are not
    /// UTF-8, no headers, no body.
    #[test]
    fn encode_response_matches_the_frame() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "text/plain".parse().unwrap());
        headers.append("set-cookie", "a=1".parse().unwrap());
        headers.append("set-cookie", "b=2".parse().unwrap());
        headers.insert(
            "x-bytes",
            http::HeaderValue::from_bytes(b"\xff\xfe ok").unwrap(),
        );
        for (headers, data) in [(headers, &b"hello"[..]), (http::HeaderMap::new(), &b""[..])] {
            let frame = Frame::Response {
                stream: 11,
                status: 404,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
                    .collect(),
                data: Bytes::copy_from_slice(data),
            };
            let direct = encode_response(11, http::StatusCode::NOT_FOUND, &headers, data);
            assert_eq!(direct, encode(&frame));
            assert_eq!(decode(direct).unwrap(), frame);
        }
    }

    /// A `RequestHead` encoded from borrowed parts is the one `encode` makes of the frame:
    /// headers (repeated, not UTF-8, empty) or none, with or without a body to come.
    #[test]
    fn encode_request_head_matches_the_frame() {
        let headers: [(&str, &[u8]); 4] = [
            ("content-type", b"text/plain"),
            ("x-a", b"1"),
            ("x-a", b"\xff\xfe"),
            ("x-empty", b""),
        ];
        for (headers, end_stream) in [(&headers[..], false), (&[][..], true)] {
            let frame = Frame::RequestHead {
                stream: 9,
                method: "PATCH".into(),
                uri: "app://localhost/a?b=%20".into(),
                headers: headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), Bytes::copy_from_slice(v)))
                    .collect(),
                end_stream,
                window: 1 << 20,
            };
            let direct = encode_request_head(
                9,
                "PATCH",
                "app://localhost/a?b=%20",
                headers,
                end_stream,
                1 << 20,
            );
            assert_eq!(direct, encode(&frame));
            assert_eq!(decode(direct).unwrap(), frame);
        }
    }

    /// A frame's data is the frame's own buffer from the data on (`tail`), not a copy, and
    /// stays valid once the rest of the decoded frame is dropped.
    #[test]
    fn decoded_data_is_the_tail_of_the_frame() {
        let frames = [
            Frame::RequestData {
                stream: 1,
                data: Bytes::from_static(b"upload"),
            },
            Frame::ResponseData {
                stream: 2,
                data: Bytes::from_static(b"download"),
            },
            Frame::Response {
                stream: 3,
                status: 200,
                headers: vec![("x".into(), Bytes::from_static(b"y"))],
                data: Bytes::from_static(b"whole"),
            },
            Frame::Response {
                stream: 4,
                status: 204,
                headers: vec![],
                data: Bytes::new(),
            },
        ];
        for frame in frames {
            let encoded = Bytes::from(encode(&frame).to_vec());
            let end = encoded.as_ptr() as usize + encoded.len();
            let decoded = decode(encoded).unwrap();
            assert_eq!(decoded, frame);
            let data = match decoded {
                Frame::RequestData { data, .. }
                | Frame::ResponseData { data, .. }
                | Frame::Response { data, .. } => data,
                _ => unreachable!(),
            };
            assert_eq!(data.as_ptr() as usize + data.len(), end);
        }
    }

    /// The hand-written encoder against bincode's serde encoding of the same frames.
    #[test]
    fn encode_matches_bincode() {
        let frames = [
            Frame::RequestHead {
                stream: 7,
                method: "POST".into(),
                uri: "app://localhost/api/x?y=1".into(),
                headers: vec![
                    ("content-type".into(), Bytes::from_static(b"text/plain")),
                    ("x-empty".into(), Bytes::new()),
                ],
                end_stream: false,
                window: 1 << 20,
            },
            Frame::RequestData {
                stream: 7,
                data: Bytes::from(vec![3u8; 1000]),
            },
            Frame::RequestEnd { stream: 7 },
            Frame::ResponseHead {
                stream: 7,
                status: 201,
                headers: vec![("a".into(), Bytes::from_static(b"\xff\x00"))],
            },
            Frame::ResponseHead {
                stream: 8,
                status: 204,
                headers: vec![],
            },
            Frame::ResponseData {
                stream: 7,
                data: Bytes::new(),
            },
            Frame::ResponseEnd { stream: 7 },
            Frame::Response {
                stream: 11,
                status: 200,
                headers: vec![("content-type".into(), Bytes::from_static(b"text/plain"))],
                data: Bytes::from_static(b"hello"),
            },
            Frame::Response {
                stream: 12,
                status: 404,
                headers: vec![],
                data: Bytes::new(),
            },
            Frame::Cancel { stream: 9 },
            Frame::Credit {
                stream: 9,
                bytes: u32::MAX,
            },
            Frame::error(0, ErrorCode::Other(999), "no \u{e9} such"),
        ];
        for frame in frames {
            let mut expected = vec![VERSION];
            bincode::serde::encode_into_std_write(frame.as_wire(), &mut expected, config())
                .unwrap();
            assert_eq!(encode(&frame).as_ref(), expected, "{frame:?}");
            assert_eq!(decode(encode(&frame)).unwrap(), frame);
        }
    }

    /// The in-place head reader agrees with `decode` on every prefix and corruption of
    /// a head: the same fields, or the same error (or it leaves the frame to `decode`).
    #[test]
    fn decode_head_agrees_with_decode() {
        let head = encode(&Frame::RequestHead {
            stream: 9,
            method: "PUT".into(),
            uri: "app://localhost/a?b=\u{e9}".into(),
            headers: vec![
                ("content-type".into(), Bytes::from_static(b"text/plain")),
                ("x-e".into(), Bytes::new()),
            ],
            end_stream: false,
            window: 77,
        });
        let mut inputs: Vec<Vec<u8>> = (0..=head.len()).map(|n| head[..n].to_vec()).collect();
        for i in 0..head.len() {
            for b in [0u8, 1, 0x80, 0xff] {
                let mut v = head.to_vec();
                v[i] = b;
                inputs.push(v);
            }
        }
        let mut trailing = head.to_vec();
        trailing.push(0);
        inputs.push(trailing);
        for input in inputs {
            let input = Bytes::from(input);
            let Some(fast) = decode_head(&input) else {
                continue;
            };
            match (fast, decode(input.clone())) {
                (Err(a), Err(b)) => assert_eq!(a, b),
                (
                    Ok(h),
                    Ok(Frame::RequestHead {
                        stream,
                        method,
                        uri,
                        headers,
                        end_stream,
                        window,
                    }),
                ) => {
                    assert_eq!(h.stream, stream);
                    assert_eq!(h.method, method);
                    assert_eq!(h.uri, uri);
                    let got: Vec<_> = h
                        .headers
                        .into_iter()
                        .map(|(n, v)| (n.as_bytes().to_vec(), input.slice(v)))
                        .collect();
                    let want: Vec<_> = headers
                        .into_iter()
                        .map(|(n, v)| (n.into_bytes(), v))
                        .collect();
                    assert_eq!(got, want);
                    assert_eq!((h.end_stream, h.window), (end_stream, window));
                }
                (a, b) => panic!("decode_head {:?} but decode {b:?}", a.map(|h| h.stream)),
            }
        }
    }

    #[test]
    fn layout_of_a_credit_frame_is_as_documented() {
        let bytes = encode(&Frame::Credit {
            stream: 0x0102_0304,
            bytes: 0x10,
        });
        assert_eq!(bytes.as_ref(), [1, 7, 0, 0, 0, 4, 3, 2, 1, 0x10, 0, 0, 0]);
    }

    #[test]
    fn data_is_sliced_from_the_input_not_copied() {
        let encoded = encode(&Frame::ResponseData {
            stream: 1,
            data: Bytes::from(vec![9u8; 4096]),
        });
        let start = encoded.as_ptr() as usize;
        let range = start..start + encoded.len();
        let Frame::ResponseData { data, .. } = decode(encoded.clone()).unwrap() else {
            panic!("wrong frame")
        };
        assert!(range.contains(&(data.as_ptr() as usize)));
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // RequestData claiming a 2^63-byte payload with 3 bytes present.
        let mut bytes = vec![VERSION, 1, 0, 0, 0, 1, 0, 0, 0];
        bytes.extend_from_slice(&(1u64 << 63).to_le_bytes());
        bytes.extend_from_slice(b"abc");
        assert!(matches!(
            decode(Bytes::from(bytes)),
            Err(DecodeError::Malformed(_))
        ));
        // A head claiming 2^40 headers.
        let mut bytes = vec![VERSION, 0, 0, 0, 0, 1, 0, 0, 0];
        for s in ["GET", "/"] {
            bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
        }
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decode(Bytes::from(bytes)).is_err());
    }

    #[test]
    fn every_bad_envelope_is_named() {
        assert_eq!(decode(Bytes::new()), Err(DecodeError::Empty));
        assert_eq!(
            decode(Bytes::from_static(&[2, 7, 0, 0, 0])),
            Err(DecodeError::UnsupportedVersion(2))
        );
        assert!(matches!(
            decode(Bytes::from_static(&[1, 99, 0, 0, 0])),
            Err(DecodeError::Malformed(_))
        ));
        let mut ok = encode(&Frame::Cancel { stream: 1 }).to_vec();
        ok.push(0);
        assert!(matches!(
            decode(Bytes::from(ok)),
            Err(DecodeError::Malformed(m)) if m.contains("trailing")
        ));
        let big = Bytes::from(vec![1u8; MAX_FRAME + 1]);
        assert_eq!(decode(big), Err(DecodeError::TooLarge(MAX_FRAME + 1)));
    }
}
