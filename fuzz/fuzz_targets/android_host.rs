//! What the Java side hands bridge-android's host (JNI strings: `shouldInterceptRequest`'s
//! method, URL and headers, and the page's base64 frames), any bytes: nothing panics, a
//! malformed message is refused, and the session still serves a correct request after.
//! The input is a selector byte, then fields each prefixed by a one-byte length.
#![no_main]

use std::sync::OnceLock;

use bridge_android::host::{AndroidHost, DEFAULT_ORIGIN, InterceptedRequest};
use bus_core::{Body, Bus};
use libfuzzer_sys::fuzz_target;

fn host() -> &'static AndroidHost {
    static HOST: OnceLock<(Bus, AndroidHost)> = OnceLock::new();
    &HOST
        .get_or_init(|| {
            let echo = tower::service_fn(|r: http::Request<Body>| async move {
                Ok::<_, std::convert::Infallible>(http::Response::new(r.into_body()))
            });
            let bus = Bus::builder()
                .app_origin(DEFAULT_ORIGIN)
                .mount_with(bus_core::Mount::new("/", echo).public())
                .build();
            let host = AndroidHost::new(bus.handle(), DEFAULT_ORIGIN).expect("an origin");
            (bus, host)
        })
        .1
}

/// Splits `data` into fields, each prefixed by a one-byte length; as (lossy) strings, as
/// JNI hands Java strings over.
fn fields(mut data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((&len, tail)) = data.split_first() {
        let len = (len as usize).min(tail.len());
        out.push(String::from_utf8_lossy(&tail[..len]).into_owned());
        data = &tail[len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let fields = fields(rest);
    let host = host();
    if selector % 2 == 0 {
        // shouldInterceptRequest: method, URL, then header name/value pairs.
        let mut it = fields.into_iter();
        let method = it.next().unwrap_or_default();
        let url = it.next().unwrap_or_default();
        let rest: Vec<String> = it.collect();
        let headers = rest
            .chunks(2)
            .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
            .collect();
        let request = InterceptedRequest {
            method,
            url,
            headers,
            is_main_frame: selector & 2 != 0,
            has_gesture: false,
            is_redirect: false,
        };
        if let Some(response) = host.intercept(&request) {
            // What WebResourceResponse accepts: never a 3xx or out-of-range status.
            assert!(
                (200..300).contains(&response.status) || (400..600).contains(&response.status),
                "status {} for {request:?}",
                response.status
            );
            let _ = response.body.read_all();
        }
    } else {
        // The page's frames as the string bridge carries them (base64).
        let Ok(session) = host.open_session(DEFAULT_ORIGIN, true, || {}) else {
            panic!("the app's main frame gets a session");
        };
        for message in &fields {
            let _ = session.receive(message);
        }
        session.close();
    }
});
