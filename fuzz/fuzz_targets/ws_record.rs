//! Any bytes as a WebSocket record stream (what a page sends after its 101): decoding
//! never panics, whole records re-encode to the same bytes, and a limit is never exceeded.
#![no_main]

use bus_core::websocket::{Decoder, Message, decode};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1024;

fuzz_target!(|data: &[u8]| {
    // One record exactly, as the golden vectors are read.
    if let Ok(message) = decode(data, LIMIT) {
        assert_eq!(message.encode(), data, "decode/encode is not the identity");
    }
    // The same bytes as a stream, fed in pieces whose size the first byte picks.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).max(1);
    let mut decoder = Decoder::new(LIMIT);
    let mut consumed = Vec::new();
    for piece in rest.chunks(split) {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    if let Message::Text(d) | Message::Binary(d) = &message {
                        assert!(d.len() <= LIMIT);
                    }
                    consumed.extend_from_slice(&message.encode());
                }
                Ok(None) => break,
                Err(_) => return, // the socket closes: nothing more is read
            }
        }
    }
    assert!(rest.starts_with(&consumed), "records re-encode to what was read");
});
