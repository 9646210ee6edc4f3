//! The Android host of the in-process HTTP bus, in Rust, and its JNI layer for the Java
//! side in `java/`. Its tests drive the host logic from real Chromium as a stand-in for
//! Android WebView (the test-only crate `android-emulator`), on a machine with no Android.
//!
//! - [`host`]: platform-neutral logic: [`AndroidHost::intercept`](host::AndroidHost::intercept)
//!   answers what `shouldInterceptRequest` gets (bodiless GET/HEAD, pulled bodies, caller
//!   identity, redirects and statuses Android cannot carry);
//!   [`AndroidHost::open_session`](host::AndroidHost::open_session) carries the shim's frames
//!   (everything with a body, streams, cancel, push) over a string bridge; form submissions
//!   are answered through a one-time result stash.
//!
//! # Layout
//! - [`host`]: the host logic (`intercept`, `frames`, `stash`, `navigation`: the policy
//!   `shouldOverrideUrlLoading` asks); no JNI, no CDP.
//! - [`jni`]: every JNI export of the crate (for `dev.inprocbus.NativeBridge`), each a few
//!   lines over a safe function, under `catch_unwind`; errors become Java exceptions. Also
//!   [`jni::register_bus`], which the app's own Rust crate calls to hand its bus to Java.
//!   The only module with `unsafe` code (`#[unsafe(no_mangle)]`).
//! - `handles`: the `long` handles Java holds (buses, hosts, bodies, sessions): keys in
//!   registries, never pointers; 0 is never issued.
//! - [`scripts`]: the main-frame script (the bridge-js bundle and its `install()` over a
//!   `WebMessagePort` or an `addJavascriptInterface` object).
//!
//! Feature `leak-probe` (test builds only): the JNI export `NativeBridge.openHandles`,
//! which counts open handles for the JVM tests' leak checks.
//!
//! See `README.md` for the transport table, the Java API, what the emulator cannot
//! emulate, and the security notes.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod handles;
pub mod host;
#[allow(unsafe_code)]
pub mod jni;
pub mod scripts;
