//! Property tests: frames round-trip through the codec, no input makes the decoder panic,
//! and routing always picks the longest whole-segment prefix.

use bus_core::protocol::{ErrorCode, Frame, MAX_DATA, decode, encode};
use bus_core::{Body, Bus};
use bytes::Bytes;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn headers() -> impl Strategy<Value = Vec<(String, Bytes)>> {
    proptest::collection::vec(("[a-z-]{1,20}", bytes(40)), 0..6)
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            any::<u32>(),
            "[A-Z]{1,8}",
            "\\PC{0,60}",
            headers(),
            any::<bool>(),
            any::<u32>()
        )
            .prop_map(|(stream, method, uri, headers, end_stream, window)| {
                Frame::RequestHead {
                    stream,
                    method,
                    uri,
                    headers,
                    end_stream,
                    window,
                }
            }),
        (any::<u32>(), bytes(3000)).prop_map(|(stream, data)| Frame::RequestData { stream, data }),
        any::<u32>().prop_map(|stream| Frame::RequestEnd { stream }),
        (any::<u32>(), any::<u16>(), headers()).prop_map(|(stream, status, headers)| {
            Frame::ResponseHead {
                stream,
                status,
                headers,
            }
        }),
        (any::<u32>(), bytes(3000)).prop_map(|(stream, data)| Frame::ResponseData { stream, data }),
        any::<u32>().prop_map(|stream| Frame::ResponseEnd { stream }),
        any::<u32>().prop_map(|stream| Frame::Cancel { stream }),
        (any::<u32>(), any::<u32>()).prop_map(|(stream, bytes)| Frame::Credit { stream, bytes }),
        (any::<u32>(), any::<u16>(), "\\PC{0,80}").prop_map(|(stream, code, message)| {
            Frame::Error {
                stream,
                code: ErrorCode::from_u16(code),
                message,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn frames_round_trip(frame in frame()) {
        let encoded = encode(&frame);
        let decoded = decode(encoded.clone()).unwrap();
        prop_assert_eq!(&decoded, &frame);
        prop_assert_eq!(encode(&decoded), encoded);
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(Bytes::from(data));
    }

    #[test]
    fn a_corrupted_frame_never_panics(frame in frame(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let mut bytes = encode(&frame).to_vec();
        for (at, value) in flips {
            let n = bytes.len();
            bytes[at % n] = value;
        }
        let cut = cut % (bytes.len() + 1);
        let _ = decode(Bytes::from(bytes[..cut].to_vec()));
        if let Ok(Frame::RequestData { data, .. } | Frame::ResponseData { data, .. }) =
            decode(Bytes::from(bytes))
        {
            prop_assert!(data.len() <= MAX_DATA);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn routing_picks_the_longest_whole_segment_prefix(
        prefixes in proptest::collection::btree_set("(/[ab]{1,2}){1,3}", 1..6),
        path in "(/[ab]{1,2}){1,4}",
    ) {
        let mut builder = Bus::builder();
        for p in &prefixes {
            let name = p.clone();
            let svc = tower::service_fn(move |_r: http::Request<Body>| {
                let name = name.clone();
                async move { Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(name))) }
            });
            builder = builder.mount(p, svc);
        }
        let bus = builder.build();
        let expected = prefixes
            .iter()
            .filter(|p| path == **p || path.starts_with(&format!("{p}/")))
            .max_by_key(|p| p.len());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let got = rt.block_on(async {
            let response = bus.handle().call(http::Request::get(&path).body(Body::empty()).unwrap()).await;
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        });
        match expected {
            Some(p) => prop_assert_eq!(got, (http::StatusCode::OK, p.clone())),
            None => prop_assert_eq!(got.0, http::StatusCode::NOT_FOUND),
        }
    }
}
