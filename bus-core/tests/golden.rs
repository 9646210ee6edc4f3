//! Golden frame vectors: `protocol/vectors/` holds encoded frames and what they mean, in a
//! form every implementation (Rust, JS, Java, C) reads. This test decodes each one,
//! compares it with its description, and re-encodes it byte for byte.
//!
//! The vectors are generated from the list below: run
//! `UPDATE_VECTORS=1 cargo test -p bus-core --test golden` after changing it. Without that
//! variable the test fails when the files on disk differ from what the list produces.

use std::path::PathBuf;

use bus_core::protocol::{DecodeError, ErrorCode, Frame, MAX_DATA, VERSION, decode, encode};
use bytes::Bytes;
use serde_json::{Value, json};

#[path = "support/vectors.rs"]
mod vectors;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn headers_json(headers: &[(String, Bytes)]) -> Value {
    Value::Array(headers.iter().map(|(n, v)| json!([n, hex(v)])).collect())
}

/// The language-neutral description of a frame (bytes as lower-case hex).
fn describe(frame: &Frame) -> Value {
    match frame {
        Frame::RequestHead {
            stream,
            method,
            uri,
            headers,
            end_stream,
            window,
        } => json!({
            "type": "RequestHead", "stream": stream, "method": method, "uri": uri,
            "headers": headers_json(headers), "end_stream": end_stream, "window": window,
        }),
        Frame::RequestData { stream, data } => {
            json!({ "type": "RequestData", "stream": stream, "data": hex(data) })
        }
        Frame::RequestEnd { stream } => json!({ "type": "RequestEnd", "stream": stream }),
        Frame::ResponseHead {
            stream,
            status,
            headers,
        } => json!({
            "type": "ResponseHead", "stream": stream, "status": status, "headers": headers_json(headers),
        }),
        Frame::ResponseData { stream, data } => {
            json!({ "type": "ResponseData", "stream": stream, "data": hex(data) })
        }
        Frame::ResponseEnd { stream } => json!({ "type": "ResponseEnd", "stream": stream }),
        Frame::Cancel { stream } => json!({ "type": "Cancel", "stream": stream }),
        Frame::Credit { stream, bytes } => {
            json!({ "type": "Credit", "stream": stream, "bytes": bytes })
        }
        Frame::Error {
            stream,
            code,
            message,
        } => json!({
            "type": "Error", "stream": stream, "code": code.to_u16(), "message": message,
        }),
        Frame::Response {
            stream,
            status,
            headers,
            data,
        } => json!({
            "type": "Response", "stream": stream, "status": status,
            "headers": headers_json(headers), "data": hex(data),
        }),
        other => panic!("no description for {other:?}"),
    }
}

fn h(name: &str, value: &[u8]) -> (String, Bytes) {
    (name.to_owned(), Bytes::copy_from_slice(value))
}

fn valid() -> Vec<(&'static str, &'static str, Frame)> {
    vec![
        (
            "request-head-get",
            "A GET with no body: end_stream is true, 64 KiB response window.",
            Frame::RequestHead {
                stream: 1,
                method: "GET".into(),
                uri: "/api/items/7?full=1".into(),
                headers: vec![h("accept", b"application/json")],
                end_stream: true,
                window: 65536,
            },
        ),
        (
            "request-head-post-absolute",
            "A POST with a body to follow, absolute app:// URI, two headers, one repeated name.",
            Frame::RequestHead {
                stream: 3,
                method: "POST".into(),
                uri: "app://localhost/upload".into(),
                headers: vec![
                    h("content-type", b"text/plain;charset=UTF-8"),
                    h("x-tag", b"a"),
                    h("x-tag", b"b"),
                ],
                end_stream: false,
                window: 262144,
            },
        ),
        (
            "request-head-unicode-uri-latin1-value",
            "Percent-encoded UTF-8 in the URI and a header value with a byte over 0x7f (obs-text).",
            Frame::RequestHead {
                stream: 0xffff_fffe,
                method: "PUT".into(),
                uri: "/docs/caf%C3%A9".into(),
                headers: vec![h("x-latin1", &[0x63, 0x61, 0x66, 0xe9])],
                end_stream: false,
                window: 0,
            },
        ),
        (
            "request-data",
            "Five body bytes including a NUL and 0xff.",
            Frame::RequestData {
                stream: 3,
                data: Bytes::from_static(&[0x00, 0x01, 0x7f, 0x80, 0xff]),
            },
        ),
        (
            "request-data-empty",
            "An empty data frame (allowed, carries nothing).",
            Frame::RequestData {
                stream: 3,
                data: Bytes::new(),
            },
        ),
        (
            "request-end",
            "End of the request body of stream 3.",
            Frame::RequestEnd { stream: 3 },
        ),
        (
            "response-head",
            "200 with a content type and a set-cookie.",
            Frame::ResponseHead {
                stream: 1,
                status: 200,
                headers: vec![
                    h("content-type", b"application/json"),
                    h("set-cookie", b"a=1; Path=/"),
                ],
            },
        ),
        (
            "response-head-no-headers",
            "A 204 with no headers at all.",
            Frame::ResponseHead {
                stream: 9,
                status: 204,
                headers: vec![],
            },
        ),
        (
            "response-data",
            "Body text `{\"id\":7}`.",
            Frame::ResponseData {
                stream: 1,
                data: Bytes::from_static(b"{\"id\":7}"),
            },
        ),
        (
            "response-end",
            "End of stream 1.",
            Frame::ResponseEnd { stream: 1 },
        ),
        (
            "cancel",
            "The page abandons stream 5.",
            Frame::Cancel { stream: 5 },
        ),
        (
            "credit",
            "The page grants 1 MiB more on stream 1.",
            Frame::Credit {
                stream: 1,
                bytes: 1 << 20,
            },
        ),
        (
            "credit-max",
            "Credit of u32::MAX.",
            Frame::Credit {
                stream: 2,
                bytes: u32::MAX,
            },
        ),
        (
            "error-stream",
            "A flow-control error on stream 3.",
            Frame::error(
                3,
                ErrorCode::FlowControl,
                "7 bytes of request body sent with only 0 bytes of credit",
            ),
        ),
        (
            "error-session-unicode",
            "A session-level error (stream 0) with a non-ASCII message.",
            Frame::error(0, ErrorCode::Malformed, "malformed frame: ünexpected"),
        ),
        (
            "error-unknown-code",
            "An error code this version does not define (kept as the number).",
            Frame::Error {
                stream: 4,
                code: ErrorCode::Other(999),
                message: String::new(),
            },
        ),
        (
            "response-whole",
            "A whole response in one frame: status 200, a header, a 5-byte body.",
            Frame::Response {
                stream: 5,
                status: 200,
                headers: vec![h("content-type", b"text/plain")],
                data: Bytes::from_static(b"hello"),
            },
        ),
        (
            "response-whole-empty",
            "A whole response with no headers and an empty body (status 204).",
            Frame::Response {
                stream: 6,
                status: 204,
                headers: vec![],
                data: Bytes::new(),
            },
        ),
    ]
}

/// Inputs every decoder must refuse, with the error code it must report.
fn invalid() -> Vec<(&'static str, &'static str, Vec<u8>, ErrorCode)> {
    let mut trailing = encode(&Frame::Cancel { stream: 1 }).to_vec();
    trailing.push(0);
    let mut truncated = encode(&Frame::ResponseData {
        stream: 1,
        data: Bytes::from_static(b"hello"),
    })
    .to_vec();
    truncated.truncate(truncated.len() - 2);
    let mut huge_len = vec![VERSION, 1, 0, 0, 0, 1, 0, 0, 0];
    huge_len.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut bad_utf8 = vec![VERSION, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0];
    bad_utf8.extend_from_slice(&2u64.to_le_bytes());
    bad_utf8.extend_from_slice(&[0xc3, 0x28]);
    let mut bad_bool = encode(&Frame::RequestHead {
        stream: 1,
        method: "GET".into(),
        uri: "/".into(),
        headers: vec![],
        end_stream: true,
        window: 0,
    })
    .to_vec();
    let n = bad_bool.len();
    bad_bool[n - 5] = 2;
    let mut oversized_data = vec![VERSION, 4, 0, 0, 0, 1, 0, 0, 0];
    oversized_data.extend_from_slice(&((MAX_DATA + 1) as u64).to_le_bytes());
    oversized_data.extend(std::iter::repeat_n(0u8, MAX_DATA + 1));
    vec![
        ("empty", "No bytes at all.", vec![], ErrorCode::Malformed),
        (
            "version-2",
            "A frame of a future version.",
            vec![2, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            ErrorCode::UnsupportedVersion,
        ),
        (
            "unknown-variant",
            "Variant index 10 does not exist.",
            vec![VERSION, 10, 0, 0, 0, 1, 0, 0, 0],
            ErrorCode::Malformed,
        ),
        (
            "truncated",
            "A ResponseData cut two bytes short.",
            truncated,
            ErrorCode::Malformed,
        ),
        (
            "trailing-byte",
            "A valid Cancel followed by one extra byte.",
            trailing,
            ErrorCode::Malformed,
        ),
        (
            "length-past-end",
            "RequestData claiming u64::MAX bytes.",
            huge_len,
            ErrorCode::Malformed,
        ),
        (
            "bad-utf8",
            "An Error frame whose message is not UTF-8.",
            bad_utf8,
            ErrorCode::Malformed,
        ),
        (
            "bad-bool",
            "A RequestHead whose end_stream byte is 2.",
            bad_bool,
            ErrorCode::Malformed,
        ),
        (
            "data-over-max",
            "ResponseData of MAX_DATA + 1 bytes (frame itself within MAX_FRAME).",
            oversized_data,
            ErrorCode::FrameTooLarge,
        ),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../protocol/vectors")
}

fn generate() -> Vec<(String, Vec<u8>)> {
    let valid = valid()
        .into_iter()
        .map(|(name, description, frame)| {
            let bytes = encode(&frame).to_vec();
            (name, description, ("frame", describe(&frame)), bytes)
        })
        .collect();
    let invalid = invalid()
        .into_iter()
        .map(|(name, description, bytes, code)| {
            (name, description, ("error", json!(code.to_u16())), bytes)
        })
        .collect();
    vectors::folder(
        valid,
        invalid,
        json!({
            "generated_by": "bus-core/tests/golden.rs (UPDATE_VECTORS=1 cargo test -p bus-core --test golden)",
            "version": VERSION,
        }),
    )
}

#[test]
fn vectors_on_disk_are_up_to_date() {
    vectors::check_on_disk(&dir(), generate(), "golden");
}

#[test]
fn every_vector_decodes_as_described_and_reencodes_identically() {
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir().join("index.json")).unwrap()).unwrap();
    let vectors = index["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 20);
    for v in vectors {
        let file = v["file"].as_str().unwrap();
        let bytes = Bytes::from(std::fs::read(dir().join(file)).unwrap());
        match decode(bytes.clone()) {
            Ok(frame) => {
                assert_eq!(
                    describe(&frame),
                    v["frame"],
                    "{file} decodes to something else"
                );
                assert_eq!(
                    encode(&frame),
                    bytes,
                    "{file} does not re-encode byte-identically"
                );
            }
            Err(err) => {
                let expected = v["error"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{file} should decode: {err}"));
                assert_eq!(
                    u64::from(err.code().to_u16()),
                    expected,
                    "{file}: wrong error {err}"
                );
            }
        }
    }
}

#[test]
fn hex_round_trips() {
    assert_eq!(unhex(&hex(&[0, 255, 16])), vec![0, 255, 16]);
    let _ = DecodeError::Empty;
}
