//! The Android host of the in-process HTTP bus, in Rust — its JNI layer for the Java side
//! in `java/`, and a Chromium stand-in for Android WebView that drives the host logic, to
//! test it on a machine with no Android.
//!
//! - [`host`]: platform-neutral logic: [`AndroidHost::intercept`](host::AndroidHost::intercept)
//!   answers what `shouldInterceptRequest` gets (bodiless GET/HEAD, pulled bodies, caller
//!   identity, redirects and statuses Android cannot carry);
//!   [`AndroidHost::open_session`](host::AndroidHost::open_session) carries the shim's frames
//!   (everything with a body, streams, cancel, push) over a string bridge; form submissions
//!   are answered through a one-time result stash.
//! - `emulator` (feature `emulator`): real Chromium over `--remote-debugging-pipe`, whose
//!   CDP `Fetch` and `Runtime` domains play `shouldInterceptRequest`,
//!   `addJavascriptInterface` and `evaluateJavascript`, calling the same `host` code the
//!   JNI layer calls.
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
//! - `emulator` (feature `emulator`): the Chromium stand-in.
//!
//! See `README.md` for the transport table, the Java API, what the emulator cannot
//! emulate, and the security notes.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "emulator")]
pub mod emulator;
mod handles;
pub mod host;
#[allow(unsafe_code)]
pub mod jni;
pub mod scripts;
