//! Golden WebSocket message records: `protocol/ws-vectors/` holds encoded records and what
//! they mean, for every implementation of the record codec (Rust `bus_core::websocket`,
//! JS `bridge-js/src/websocket.ts`). This test decodes each one, compares it with its
//! description, and re-encodes it byte for byte.
//!
//! Generated from the lists below: run
//! `UPDATE_VECTORS=1 cargo test -p bus-core --test golden_websocket` after changing them.

use std::path::PathBuf;

use bus_core::websocket::{Message, decode};
use bytes::Bytes;
use serde_json::{Value, json};

#[path = "support/vectors.rs"]
mod vectors;

/// The limit the vectors are decoded with.
const MAX_MESSAGE: usize = 64;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn describe(message: &Message) -> Value {
    match message {
        Message::Text(data) => json!({ "type": "Text", "data": hex(data) }),
        Message::Binary(data) => json!({ "type": "Binary", "data": hex(data) }),
        Message::Close { code, reason } => {
            json!({ "type": "Close", "code": code, "reason": reason })
        }
        other => panic!("no description for {other:?}"),
    }
}

fn valid() -> Vec<(&'static str, &'static str, Message)> {
    vec![
        ("text", "a text message", Message::text("hello")),
        ("text-empty", "an empty text message", Message::text("")),
        (
            "text-unicode",
            "text with 2-, 3- and 4-byte UTF-8 and a leading BOM, kept",
            Message::text("\u{feff}héllo ✓ 🦀"),
        ),
        (
            "binary",
            "a binary message",
            Message::Binary(Bytes::from_static(&[0, 1, 2, 0x7f, 0x80, 0xff])),
        ),
        (
            "binary-empty",
            "an empty binary message",
            Message::Binary(Bytes::new()),
        ),
        (
            "binary-at-limit",
            "a binary message of exactly the limit (64 bytes)",
            Message::Binary(Bytes::from(vec![0xab; MAX_MESSAGE])),
        ),
        (
            "close-normal",
            "close 1000 with no reason",
            Message::Close {
                code: 1000,
                reason: String::new(),
            },
        ),
        (
            "close-no-status",
            "close without a code (1005)",
            Message::Close {
                code: 1005,
                reason: String::new(),
            },
        ),
        (
            "close-app-reason",
            "close 4001 with a reason",
            Message::Close {
                code: 4001,
                reason: "done ✓".into(),
            },
        ),
        (
            "close-reason-max",
            "close 3000 with a 123-byte reason",
            Message::Close {
                code: 3000,
                reason: "r".repeat(123),
            },
        ),
    ]
}

fn invalid() -> Vec<(&'static str, &'static str, Vec<u8>, u16)> {
    let text = Message::text("ab").encode().to_vec();
    let mut bad_utf8 = text.clone();
    bad_utf8[12] = 0xff;
    let mut trailing = text.clone();
    trailing.push(0);
    let mut long_reason = Message::Close {
        code: 1000,
        reason: String::new(),
    }
    .encode()
    .to_vec();
    long_reason[6..14].copy_from_slice(&124u64.to_le_bytes());
    long_reason.extend(std::iter::repeat_n(b'r', 124));
    let mut bad_reason = Message::Close {
        code: 1000,
        reason: "ab".into(),
    }
    .encode()
    .to_vec();
    bad_reason[14] = 0xc3;
    bad_reason[15] = 0x28;
    vec![
        (
            "unknown-kind",
            "kind 3 does not exist",
            vec![3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            1002,
        ),
        (
            "truncated-header",
            "a text record cut inside its length",
            text[..7].to_vec(),
            1002,
        ),
        (
            "truncated-payload",
            "a text record cut inside its payload",
            text[..13].to_vec(),
            1002,
        ),
        (
            "trailing-byte",
            "a record and one more byte",
            trailing,
            1002,
        ),
        ("text-bad-utf8", "text that is not UTF-8", bad_utf8, 1002),
        (
            "close-reason-too-long",
            "a close reason of 124 bytes",
            long_reason,
            1002,
        ),
        (
            "close-reason-bad-utf8",
            "a close reason that is not UTF-8",
            bad_reason,
            1002,
        ),
        (
            "binary-over-limit",
            "a binary message one byte over the limit (65 of 64): refused from its header",
            Message::Binary(Bytes::from(vec![0; MAX_MESSAGE + 1]))
                .header()
                .to_vec(),
            1009,
        ),
        (
            "text-huge-length",
            "a text record claiming 2^64 - 1 bytes",
            {
                let mut v = vec![0, 0, 0, 0];
                v.extend_from_slice(&u64::MAX.to_le_bytes());
                v
            },
            1009,
        ),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../protocol/ws-vectors")
}

fn generate() -> Vec<(String, Vec<u8>)> {
    let valid = valid()
        .into_iter()
        .map(|(name, description, message)| {
            let bytes = message.encode().to_vec();
            (name, description, ("message", describe(&message)), bytes)
        })
        .collect();
    let invalid = invalid()
        .into_iter()
        .map(|(name, description, bytes, code)| (name, description, ("error", json!(code)), bytes))
        .collect();
    vectors::folder(
        valid,
        invalid,
        json!({
            "generated_by": "bus-core/tests/golden_websocket.rs (UPDATE_VECTORS=1 cargo test -p bus-core --test golden_websocket)",
            "max_message": MAX_MESSAGE,
        }),
    )
}

#[test]
fn vectors_on_disk_are_up_to_date() {
    vectors::check_on_disk(&dir(), generate(), "golden_websocket");
}

#[test]
fn every_vector_decodes_as_described_and_reencodes_identically() {
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir().join("index.json")).unwrap()).unwrap();
    let max = index["max_message"].as_u64().unwrap() as usize;
    for v in index["vectors"].as_array().unwrap() {
        let file = v["file"].as_str().unwrap();
        let bytes = std::fs::read(dir().join(file)).unwrap();
        match decode(&bytes, max) {
            Ok(message) => {
                assert_eq!(describe(&message), v["message"], "{file}");
                assert_eq!(message.encode(), bytes, "{file} does not re-encode");
            }
            Err(err) => {
                let expected = v["error"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{file} should decode: {err}"));
                assert_eq!(u64::from(err.close_code()), expected, "{file}: {err}");
            }
        }
    }
}
