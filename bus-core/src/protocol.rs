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
use bytes::Bytes;
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
/// Bus → page: `ResponseHead`, `ResponseData`, `ResponseEnd`, `Credit`, `Error`.
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

/// The serde shape of a frame; borrowed so decoding copies no payload.
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
    let (&version, body) = input.split_first().ok_or(DecodeError::Empty)?;
    if input.len() > MAX_FRAME {
        return Err(DecodeError::TooLarge(input.len()));
    }
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    // With the input already known to be at most MAX_FRAME bytes, this limit keeps any
    // length prefix from making bincode reserve more than a frame could hold.
    let config = config().with_limit::<MAX_FRAME>();
    let (wire, used): (Wire<'_>, usize) = bincode::serde::borrow_decode_from_slice(body, config)
        .map_err(|e| DecodeError::Malformed(explain(e)))?;
    if used != body.len() {
        return Err(DecodeError::Malformed(format!(
            "{} trailing bytes after the frame",
            body.len() - used
        )));
    }
    let owned = |s: &[u8]| input.slice_ref(s);
    let headers = |h: Vec<(&str, &[u8])>| -> Vec<WireHeader> {
        h.into_iter()
            .map(|(n, v)| (n.to_owned(), owned(v)))
            .collect()
    };
    let data = |d: &[u8]| {
        if d.len() > MAX_DATA {
            Err(DecodeError::TooLarge(d.len()))
        } else {
            Ok(owned(d))
        }
    };
    Ok(match wire {
        Wire::RequestHead {
            stream,
            method,
            uri,
            headers: h,
            end_stream,
            window,
        } => Frame::RequestHead {
            stream,
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers: headers(h),
            end_stream,
            window,
        },
        Wire::RequestData { stream, data: d } => Frame::RequestData {
            stream,
            data: data(d)?,
        },
        Wire::RequestEnd { stream } => Frame::RequestEnd { stream },
        Wire::ResponseHead {
            stream,
            status,
            headers: h,
        } => Frame::ResponseHead {
            stream,
            status,
            headers: headers(h),
        },
        Wire::ResponseData { stream, data: d } => Frame::ResponseData {
            stream,
            data: data(d)?,
        },
        Wire::ResponseEnd { stream } => Frame::ResponseEnd { stream },
        Wire::Cancel { stream } => Frame::Cancel { stream },
        Wire::Credit { stream, bytes } => Frame::Credit { stream, bytes },
        Wire::Error {
            stream,
            code,
            message,
        } => Frame::Error {
            stream,
            code: ErrorCode::from_u16(code),
            message: message.to_owned(),
        },
    })
}

/// Says what was wrong in the words of this protocol rather than bincode's.
fn explain(error: bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as E;
    match error {
        E::UnexpectedEnd { additional } => {
            format!("truncated: {additional} more bytes were needed")
        }
        E::LimitExceeded => "a length prefix is larger than any frame".to_owned(),
        E::Utf8 { .. } => "a string is not valid UTF-8".to_owned(),
        E::InvalidBooleanValue(v) => format!("a bool byte is {v}, not 0 or 1"),
        E::OutsideUsizeRange(n) => format!("length {n} is larger than any frame"),
        E::OtherString(s) if s.contains("variant index") => {
            format!("unknown frame type ({s})")
        }
        E::OtherString(s) => s,
        other => other.to_string(),
    }
}

/// Encodes one frame (the payload is copied once, into the returned buffer).
pub fn encode(frame: &Frame) -> Bytes {
    let mut out = Vec::with_capacity(encoded_len_hint(frame));
    out.push(VERSION);
    bincode::serde::encode_into_std_write(frame.as_wire(), &mut out, config())
        .expect("writing to a Vec cannot fail");
    Bytes::from(out)
}

fn encoded_len_hint(frame: &Frame) -> usize {
    match frame {
        Frame::RequestData { data, .. } | Frame::ResponseData { data, .. } => data.len() + 17,
        _ => 64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
