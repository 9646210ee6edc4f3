//! Any bytes: decoding never panics, and whatever decodes re-encodes to the same bytes.
#![no_main]

use bus_core::protocol::{decode, encode};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(frame) = decode(input.clone()) {
        let again = encode(&frame);
        assert_eq!(again, input, "decode/encode is not the identity for {frame:?}");
    }
});
