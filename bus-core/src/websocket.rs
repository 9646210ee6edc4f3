//! WebSocket messages over frames: the record codec (`docs/PROTOCOL.md`, section 10).
//!
//! A WebSocket is one stream: a `RequestHead` with `upgrade: websocket`, answered by a
//! `ResponseHead` with status 101. After that the request body carries the page's messages
//! and the response body the handler's, each as a sequence of **message records**, in the
//! stream's ordinary `RequestData`/`ResponseData` frames and within their credit. Records
//! are not aligned with frames: a record may span frames and a frame may hold several.
//!
//! A record is the bincode 2 (`legacy()`) encoding of [`Message`], the same conventions as
//! the frames:
//!
//! ```text
//! Text:   u32 0, u64 length, UTF-8 bytes
//! Binary: u32 1, u64 length, bytes
//! Close:  u32 2, u16 code, u64 length, UTF-8 reason (at most 123 bytes)
//! ```
//!
//! ```
//! use bus_core::websocket::{Decoder, Message};
//!
//! let record = Message::text("hi").encode();
//! assert_eq!(&record[..], b"\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00hi");
//! let mut decoder = Decoder::new(1024);
//! decoder.push(&record[..5]);
//! assert_eq!(decoder.next_message().unwrap(), None); // a record may span frames
//! decoder.push(&record[5..]);
//! assert_eq!(decoder.next_message().unwrap(), Some(Message::text("hi")));
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The close code that stands for "no code" (a close frame without a payload), as the
/// WebSocket API reports it. Never sent in a WebSocket close frame itself.
pub const NO_STATUS: u16 = 1005;

/// Close code: the connection ended without a close frame (never in a record).
pub const ABNORMAL: u16 = 1006;

/// Close code: a message was larger than the limit.
pub const TOO_BIG: u16 = 1009;

/// Close code: the peer broke the protocol (here: a malformed record).
pub const PROTOCOL_ERROR: u16 = 1002;

/// Close code: the endpoint is going away (the page left).
pub const GOING_AWAY: u16 = 1001;

/// Largest close reason in bytes (a close frame's payload is at most 125 bytes).
pub const MAX_CLOSE_REASON: usize = 123;

const TEXT: u32 = 0;
const BINARY: u32 = 1;
const CLOSE: u32 = 2;

/// One WebSocket message as a record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message; the bytes are valid UTF-8 (checked by [`Decoder`]).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// The closing handshake: `code` ([`NO_STATUS`] for none) and a reason.
    Close {
        /// The close code.
        code: u16,
        /// The reason, at most [`MAX_CLOSE_REASON`] bytes of UTF-8.
        reason: String,
    },
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(Bytes::from(text.into()))
    }

    /// The record's bytes before its payload: encode a large message as
    /// `header()` followed by the payload, without copying it.
    pub fn header(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(14);
        match self {
            Message::Text(data) => {
                out.put_u32_le(TEXT);
                out.put_u64_le(data.len() as u64);
            }
            Message::Binary(data) => {
                out.put_u32_le(BINARY);
                out.put_u64_le(data.len() as u64);
            }
            Message::Close { code, reason } => {
                out.put_u32_le(CLOSE);
                out.put_u16_le(*code);
                out.put_u64_le(reason.len() as u64);
            }
        }
        out.freeze()
    }

    /// The payload: the text, the bytes, or the close reason.
    pub fn payload(&self) -> Bytes {
        match self {
            Message::Text(data) | Message::Binary(data) => data.clone(),
            Message::Close { reason, .. } => Bytes::copy_from_slice(reason.as_bytes()),
        }
    }

    /// The whole record.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::from(&self.header()[..]);
        out.extend_from_slice(&self.payload());
        out.freeze()
    }
}

/// Why a record could not be decoded. The socket closes with [`close_code`](Self::close_code).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not a record: unknown kind, bad UTF-8, a close reason over 123 bytes, trailing bytes.
    #[error("malformed WebSocket message record: {0}")]
    Malformed(String),
    /// A message over the limit.
    #[error("a WebSocket message of {size} bytes is over the limit of {limit} bytes")]
    TooBig {
        /// The message's size.
        size: u64,
        /// The limit.
        limit: usize,
    },
}

impl MessageError {
    /// The WebSocket close code for this error: 1009 for [`TooBig`](Self::TooBig), 1002
    /// otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            MessageError::TooBig { .. } => TOO_BIG,
            MessageError::Malformed(_) => PROTOCOL_ERROR,
        }
    }
}

/// Decodes records from a byte stream fed in pieces of any size.
///
/// Lengths are checked against the limit before any payload is buffered, so a record
/// claiming a huge size costs nothing.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_message: usize,
}

impl Decoder {
    /// A decoder that refuses messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            max_message,
        }
    }

    /// Adds bytes from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes of an incomplete record are waiting.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next complete record, if the bytes pushed so far hold one.
    ///
    /// # Errors
    /// [`MessageError`]; the stream cannot go on after one.
    pub fn next_message(&mut self) -> Result<Option<Message>, MessageError> {
        let buf = &self.buf[..];
        if buf.len() < 4 {
            return Ok(None);
        }
        let kind = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
        let (header, len) = match kind {
            TEXT | BINARY => {
                if buf.len() < 12 {
                    return Ok(None);
                }
                (
                    12,
                    u64::from_le_bytes(buf[4..12].try_into().expect("8 bytes")),
                )
            }
            CLOSE => {
                if buf.len() < 14 {
                    return Ok(None);
                }
                (
                    14,
                    u64::from_le_bytes(buf[6..14].try_into().expect("8 bytes")),
                )
            }
            other => {
                return Err(MessageError::Malformed(format!(
                    "unknown message kind {other}"
                )));
            }
        };
        if kind == CLOSE {
            if len > MAX_CLOSE_REASON as u64 {
                return Err(MessageError::Malformed(format!(
                    "a close reason of {len} bytes (at most {MAX_CLOSE_REASON})"
                )));
            }
        } else if len > self.max_message as u64 {
            return Err(MessageError::TooBig {
                size: len,
                limit: self.max_message,
            });
        }
        let total = header + len as usize;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        let mut record = self.buf.split_to(total).freeze();
        record.advance(4);
        let message = match kind {
            TEXT => {
                let data = record.slice(8..);
                if std::str::from_utf8(&data).is_err() {
                    return Err(MessageError::Malformed("text that is not UTF-8".into()));
                }
                Message::Text(data)
            }
            BINARY => Message::Binary(record.slice(8..)),
            _ => {
                let code = record.get_u16_le();
                let reason = String::from_utf8(record.slice(8..).to_vec()).map_err(|_| {
                    MessageError::Malformed("a close reason that is not UTF-8".into())
                })?;
                Message::Close { code, reason }
            }
        };
        Ok(Some(message))
    }
}

/// Decodes exactly one record (the golden vectors' form).
///
/// # Errors
/// [`MessageError::Malformed`] when the bytes are not exactly one record (incomplete or
/// with trailing bytes), or as [`Decoder::next_message`].
pub fn decode(bytes: &[u8], max_message: usize) -> Result<Message, MessageError> {
    let mut decoder = Decoder::new(max_message);
    decoder.push(bytes);
    match decoder.next_message()? {
        None => Err(MessageError::Malformed("a truncated record".into())),
        Some(_) if decoder.has_partial() => Err(MessageError::Malformed(
            "trailing bytes after the record".into(),
        )),
        Some(message) => Ok(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_any_split() {
        let messages = vec![
            Message::text("héllo"),
            Message::Binary(Bytes::from_static(&[0, 1, 2, 255])),
            Message::Close {
                code: 4000,
                reason: "bye".into(),
            },
            Message::Text(Bytes::new()),
        ];
        let stream: Vec<u8> = messages.iter().flat_map(|m| m.encode().to_vec()).collect();
        for split in 1..stream.len() {
            let mut decoder = Decoder::new(64);
            let mut out = vec![];
            for piece in stream.chunks(split) {
                decoder.push(piece);
                while let Some(m) = decoder.next_message().unwrap() {
                    out.push(m);
                }
            }
            assert_eq!(out, messages, "split {split}");
            assert!(!decoder.has_partial());
        }
    }

    #[test]
    fn limits_are_checked_before_the_payload_arrives() {
        let mut decoder = Decoder::new(10);
        decoder.push(&Message::Binary(Bytes::from(vec![0; 11])).header());
        assert_eq!(
            decoder.next_message(),
            Err(MessageError::TooBig {
                size: 11,
                limit: 10
            })
        );
        let mut decoder = Decoder::new(10);
        let mut head = BytesMut::new();
        head.put_u32_le(1);
        head.put_u64_le(u64::MAX);
        decoder.push(&head);
        assert_eq!(decoder.next_message().unwrap_err().close_code(), TOO_BIG);
    }

    #[test]
    fn malformed_records_are_refused() {
        assert_eq!(
            decode(&[9, 0, 0, 0], 10).unwrap_err().close_code(),
            PROTOCOL_ERROR
        );
        let mut bad = Message::text("ab").encode().to_vec();
        bad[12] = 0xff;
        assert!(matches!(decode(&bad, 10), Err(MessageError::Malformed(_))));
        let long = Message::Close {
            code: 1000,
            reason: "x".repeat(124),
        };
        assert!(matches!(
            decode(&long.encode(), 10),
            Err(MessageError::Malformed(_))
        ));
    }
}
