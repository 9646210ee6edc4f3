//! The Rust side of an Android app: a cdylib the app loads with `System.loadLibrary`,
//! which builds the app's `Bus` with its handlers and hands it to Java with
//! `bridge_android::jni::register_bus`. Linking `bridge-android` also brings its JNI
//! exports (`Java_dev_inprocbus_NativeBridge_*`) into this library, so the app loads one
//! `.so`.
//!
//! ```sh
//! cargo build -p bridge-android --example jni_app   # target/debug/examples/libjni_app.so
//! # for a device: cargo ndk -t arm64-v8a build --release -p bridge-android --example jni_app
//! ```
//!
//! Java side (`bridge-android/java/src/test/java/dev/inprocbus/testapp/TestApp.java`):
//!
//! ```java
//! InprocBus.load("/path/to/libjni_app.so");      // System.loadLibrary("jni_app") on Android
//! long bus = TestApp.startBus();                 // this library's own export, below
//! BusHost host = InprocBus.openHost(bus, "https://app.invalid");
//! ```
//!
//! It is also the app the JVM tests drive (`bridge-android/java/run-tests.sh`): testkit's
//! `/conf` routes — the ones `tests/host.rs` drives through `AndroidHost` directly — plus a
//! few more, and test-only hooks (`TestApp.counter`) that read the handlers' counters.

use std::convert::Infallible;
use std::sync::OnceLock;

use bridge_android::host::DEFAULT_ORIGIN;
use bridge_android::jni::{Error, guarded, register_bus};
use bus_core::{Body, Bus, Caller, Mount, Policy};
use http::{Request, Response, StatusCode};
use jni::JNIEnv;
use jni::objects::{JClass, JString};
use jni::sys::jlong;

/// Length of the `/range` resource.
const RANGE_LEN: usize = 1000;

fn counters() -> &'static testkit::conformance::Counters {
    static COUNTERS: OnceLock<testkit::conformance::Counters> = OnceLock::new();
    COUNTERS.get_or_init(Default::default)
}

/// The app's bus: what an app's own crate would build with its routes.
fn build_bus() -> Bus {
    let whoami = tower::service_fn(|req: Request<Body>| async move {
        let caller = req.extensions().get::<Caller>().map_or_else(
            || "in-process".to_owned(),
            |c| {
                format!(
                    "origin={} frame={:?} transport={:?}",
                    c.origin().unwrap_or("-"),
                    c.frame(),
                    c.transport()
                )
            },
        );
        Ok::<_, Infallible>(Response::new(Body::from(caller)))
    });
    let panics = tower::service_fn(|_req: Request<Body>| async move {
        if true {
            panic!("this handler panics on purpose");
        }
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    Bus::builder()
        .app_origin(DEFAULT_ORIGIN)
        .mount_with(testkit::conformance::mount(counters().clone()))
        .mount("/whoami", whoami)
        .mount_with(Mount::new("/main-only", whoami).policy(Policy::main_frame_only()))
        .mount("/range", tower::service_fn(range))
        .mount("/panic", panics)
        .build()
}

/// `RANGE_LEN` bytes of the test pattern (byte k is k % 251); honours one `Range:
/// bytes=a-b` (or `a-`) with a `206`, as a media element asks.
async fn range(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let all: Vec<u8> = (0..RANGE_LEN).map(|k| (k % 251) as u8).collect();
    let wanted = req
        .headers()
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .map(|(a, b)| {
            let start = a.trim().parse::<usize>().ok()?;
            let end = match b.trim() {
                "" => RANGE_LEN - 1,
                b => b.parse::<usize>().ok()?.min(RANGE_LEN - 1),
            };
            (start <= end && start < RANGE_LEN).then_some((start, end))
        });
    let response = match wanted {
        None => Response::builder()
            .header("content-type", "application/octet-stream")
            .header("accept-ranges", "bytes")
            .body(Body::from(all)),
        Some(None) => Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header("content-range", format!("bytes */{RANGE_LEN}"))
            .body(Body::empty()),
        Some(Some((start, end))) => Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("bytes {start}-{end}/{RANGE_LEN}"))
            .body(Body::from(all[start..=end].to_vec())),
    };
    Ok(response.expect("a valid response"))
}

// ---------------------------------------------------------------------------------------
// This library's own exports, for `dev.inprocbus.testapp.TestApp`. An app has one like
// `startBus`; `counter` is a test-only hook.

/// `static native long startBus();` — a new bus, registered; its handle.
// SAFETY: no other symbol has this name (JNI's for `TestApp.startBus`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_testapp_TestApp_startBus(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
) -> jlong {
    guarded(&mut env, 0, |_| Ok(register_bus(build_bus())))
}

/// `static native long counter(String name);` — `cancelled` (dropped `/conf/hang`
/// handlers) or `abandoned` (`/conf/bytes` producers whose reader went away), counted
/// over every bus this library started.
// SAFETY: no other symbol has this name (JNI's for `TestApp.counter`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_testapp_TestApp_counter<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    name: JString<'local>,
) -> jlong {
    guarded(&mut env, -1, |env| {
        if name.is_null() {
            return Err(Error::Null("name"));
        }
        let name: String = env.get_string(&name)?.into();
        let counter = match name.as_str() {
            "cancelled" => &counters().cancelled,
            "abandoned" => &counters().abandoned,
            other => return Err(Error::InvalidArgument(format!("no counter {other:?}"))),
        };
        Ok(counter.load(std::sync::atomic::Ordering::SeqCst) as jlong)
    })
}

/// `static native void panicNow();` — panics inside an export, to show it becomes a
/// `BusException` instead of crossing into the JVM.
// SAFETY: no other symbol has this name (JNI's for `TestApp.panicNow`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_testapp_TestApp_panicNow(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
) {
    guarded(&mut env, (), |_| -> Result<(), Error> {
        panic!("a panic inside a JNI export")
    });
}
