//! The Android host of the in-process HTTP bus, in Rust — and a Chromium stand-in for
//! Android WebView that drives it, to test it on a machine with no Android.
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
//!   JNI layer will.
//!
//! JNI (`jni` module) comes later; it is a thin layer over [`host`].
//!
//! See `README.md` for the transport table, what the emulator cannot emulate, and the
//! security notes.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod host;
