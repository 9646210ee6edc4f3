//! The C ABI, declared in `include/bus_ios.h` (generated from this module by cbindgen).
//!
//! Every function here is a few lines: read the arguments (refusing null pointers and
//! sizes over their limits before reading or allocating anything), call one safe
//! function of this crate, and turn its result into a [`BusIosStatus`]. Each runs under
//! [`std::panic::catch_unwind`]: a panic never crosses into C, it becomes
//! [`BUS_IOS_PANIC`]. This is the only module of the crate with `unsafe` code.
//!
//! # Ownership
//! - **Handles** (`uint64_t`) name buses, requests and sessions. 0 is never issued. A
//!   handle is a key in a map, never a pointer: a freed, forged or wrong-kind handle is
//!   refused with [`BUS_IOS_BAD_HANDLE`], so double frees and use after free are caught.
//!   Each handle is freed exactly once by its own function (`bus_ios_bus_release`,
//!   `bus_ios_request_free`, `bus_ios_session_close`).
//! - **Borrowed views** (`const uint8_t *` + length, [`BusIosHeader`] arrays): given by
//!   C to a call, or by Rust to a callback, valid only for the duration of that call or
//!   callback. Whatever must outlive it is copied.
//! - **Rust-owned buffers** ([`BusIosBytes`]) handed to C: C reads them until it gives
//!   them back with [`bus_ios_bytes_free`], exactly once.
//! - **Contexts** (`void *context` of the callbacks): the host's. Rust passes them back
//!   to the callbacks and calls `on_release` exactly once when it will never use the
//!   context again — only if the call that took the callbacks returned
//!   [`BUS_IOS_OK`]; otherwise the context is still the caller's and no callback is made.
//!
//! # Threads
//! Every function may be called from any thread, concurrently, including from inside a
//! callback. Callbacks are made from the bus's worker threads (and `on_frame` also from
//! the thread calling [`bus_ios_session_receive`]); they must return quickly and must not
//! unwind. They must not wait for a thread that may be cancelling or closing them (e.g.
//! `DispatchQueue.main.sync` while the main thread calls `bus_ios_request_free`): a cancel
//! waits for a callback that is running to return. The `context` must therefore be usable
//! from any thread.
//!
//! # Errors
//! A function that does not return [`BUS_IOS_OK`] sets the calling thread's last error
//! message, read with [`bus_ios_last_error`].

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bus_core::{Caller, FrameKind, Transport};

use crate::buffer;
use crate::error::{self, Error, Status, check_size};
use crate::request::{self, CallerSource, RequestSpec, ResponseSink};
use crate::scripts;
use crate::session::{self, FrameOut};

/// A status code: `BUS_IOS_OK` or the reason for failure.
pub type BusIosStatus = i32;

/// Success.
pub const BUS_IOS_OK: BusIosStatus = 0;
/// A required pointer was null.
pub const BUS_IOS_NULL_POINTER: BusIosStatus = 1;
/// The handle is 0, was never issued, was already freed, or is of another kind (also: a
/// buffer given to `bus_ios_bytes_free` that is not a live buffer of this library).
pub const BUS_IOS_BAD_HANDLE: BusIosStatus = 2;
/// An argument is not valid: method, URL, header name or value, origin bytes, an unknown
/// constant.
pub const BUS_IOS_INVALID_ARGUMENT: BusIosStatus = 3;
/// A size or count is over its limit; refused before anything was read or allocated.
pub const BUS_IOS_TOO_LARGE: BusIosStatus = 4;
/// The other side is gone: the bus is shut down, the handler no longer reads the request
/// body (it answered without it), or the request was cancelled. Stop sending.
pub const BUS_IOS_CLOSED: BusIosStatus = 5;
/// No room in the request body queue within the timeout: try again.
pub const BUS_IOS_WOULD_BLOCK: BusIosStatus = 6;
/// The call does not fit the state: the body was already ended, the request was already
/// cancelled, or it was started without a body. A bug in the caller.
pub const BUS_IOS_INVALID_STATE: BusIosStatus = 7;
/// The session refused the frame; the page got the same problem as an `Error` frame, and
/// the session goes on.
pub const BUS_IOS_REJECTED: BusIosStatus = 8;
/// (`on_error` only) the response body failed after its head was delivered.
pub const BUS_IOS_BODY_FAILED: BusIosStatus = 9;
/// A panic was caught at the boundary: a bug in this library.
pub const BUS_IOS_PANIC: BusIosStatus = 10;

/// `BusIosCaller.frame`: the frame is not known (e.g. a `WKURLSchemeTask`).
pub const BUS_IOS_FRAME_UNKNOWN: u32 = 0;
/// `BusIosCaller.frame`: the top-level document (`WKFrameInfo.isMainFrame`).
pub const BUS_IOS_FRAME_MAIN: u32 = 1;
/// `BusIosCaller.frame`: an iframe.
pub const BUS_IOS_FRAME_SUB: u32 = 2;

/// `BusIosCaller.source`: the host verified `origin` and `frame` itself, from the
/// engine (`WKFrameInfo.securityOrigin`, `isMainFrame`) — never from the page's words.
pub const BUS_IOS_CALLER_VERIFIED: u32 = 0;
/// `BusIosCaller.source`: a `WKURLSchemeTask`, which carries no frame information. The
/// caller's origin is taken from what the engine attached to the request (`Origin`, else
/// `Referer`); a request with neither counts as the app's own (`origin`, the app origin)
/// for GET and HEAD only, and has no origin otherwise. The frame is unknown. Requests
/// only; a session's caller must be verified.
pub const BUS_IOS_CALLER_SCHEME_HEADERS: u32 = 1;

/// `bus_ios_script`: the page script (bridge-js and its install call), for the page's
/// world, main frame only, at document start.
pub const BUS_IOS_SCRIPT_PAGE: u32 = 0;
/// `bus_ios_script`: the relay script, for the bridge's own content world (named
/// `inproc-bus`), main frame only, at document start. It posts to the script message
/// handler named `inprocBus`, which the host registers in that world.
pub const BUS_IOS_SCRIPT_RELAY: u32 = 1;

/// Most headers a request may have.
pub const BUS_IOS_MAX_HEADERS: usize = 1024;
/// Most bytes of method, URL, origin and header names and values together (the bus then
/// answers 431 above its own, smaller, limit).
pub const BUS_IOS_MAX_HEAD_BYTES: usize = 1_048_576;
/// Largest chunk one `bus_ios_request_write` takes.
pub const BUS_IOS_MAX_CHUNK: usize = 1_048_576;
/// Largest frame `bus_ios_session_receive` takes (the protocol's `MAX_FRAME`).
pub const BUS_IOS_MAX_FRAME: usize = 1_114_112;
/// Response bytes a request receives before its first credit, when a host has no better
/// idea (256 KiB).
pub const BUS_IOS_DEFAULT_WINDOW: u32 = 262_144;
/// Bytes queued in a request body before `bus_ios_request_write` waits (256 KiB).
pub const BUS_IOS_UPLOAD_QUEUE_BYTES: usize = 262_144;
/// The version of this ABI, from `bus_ios_abi_version`; it changes with every
/// incompatible change of `bus_ios.h`.
pub const BUS_IOS_ABI_VERSION: u32 = 1;

/// A Rust-owned buffer handed to C. Read `len` bytes at `ptr` (followed by a NUL byte,
/// not counted, so text can be used as a C string); give it back exactly once with
/// `bus_ios_bytes_free`. Never write through `ptr` or free it with `free()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BusIosBytes {
    /// The bytes; null only in a zeroed (freed or never filled) value.
    pub ptr: *const u8,
    /// Their number.
    pub len: usize,
}

/// One header, as borrowed views: bytes, not C strings (no NUL needed, any byte allowed
/// where HTTP allows it). Valid for the duration of the call or callback it is passed to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BusIosHeader {
    /// The name (case-insensitive).
    pub name: *const u8,
    /// Bytes at `name`.
    pub name_len: usize,
    /// The value.
    pub value: *const u8,
    /// Bytes at `value`.
    pub value_len: usize,
}

/// Who sent a request or owns a session, as the host saw it — never as the page claims.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BusIosCaller {
    /// `BUS_IOS_CALLER_VERIFIED` or `BUS_IOS_CALLER_SCHEME_HEADERS`.
    pub source: u32,
    /// UTF-8 origin, `scheme://host[:port]` (`WKSecurityOrigin`'s parts); null/0 or
    /// `"null"` for an opaque or unknown origin. With `BUS_IOS_CALLER_SCHEME_HEADERS`,
    /// the app's own origin (required). Borrowed for the call.
    pub origin: *const u8,
    /// Bytes at `origin`.
    pub origin_len: usize,
    /// `BUS_IOS_FRAME_UNKNOWN`, `BUS_IOS_FRAME_MAIN` or `BUS_IOS_FRAME_SUB`.
    pub frame: u32,
}

/// A request to start. Every pointer is borrowed for the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BusIosRequest {
    /// The method, e.g. `GET` (case-sensitive, as HTTP says).
    pub method: *const u8,
    /// Bytes at `method`.
    pub method_len: usize,
    /// The URL: absolute (`app://localhost/x?y`) or origin-form (`/x?y`).
    pub url: *const u8,
    /// Bytes at `url`.
    pub url_len: usize,
    /// `header_count` headers (may be null when `header_count` is 0).
    pub headers: *const BusIosHeader,
    /// Number of `headers`, at most `BUS_IOS_MAX_HEADERS`.
    pub header_count: usize,
    /// Who sent it.
    pub caller: BusIosCaller,
    /// Whether a body follows (`bus_ios_request_write`…, then `bus_ios_request_end`).
    /// When false the request has an empty body and those calls are refused.
    pub has_body: bool,
    /// Response body bytes the host accepts before its first `bus_ios_request_credit`
    /// (0: none until then). `BUS_IOS_DEFAULT_WINDOW` is a good start.
    pub window: u32,
}

/// The response head: `headers` (`header_count` of them) are borrowed for the callback.
/// A `content-length` header is added when the body's length is known and the handler
/// set none.
pub type BusIosOnHead = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        status: u16,
        headers: *const BusIosHeader,
        header_count: usize,
    ),
>;
/// A chunk of the response body (never empty, at most 1 MiB, never more than the credit
/// granted), borrowed for the callback: copy what you keep.
pub type BusIosOnData =
    Option<unsafe extern "C" fn(context: *mut c_void, data: *const u8, len: usize)>;
/// The response body ended normally. Last callback but `on_release`.
pub type BusIosOnEnd = Option<unsafe extern "C" fn(context: *mut c_void)>;
/// The response failed: `status` is `BUS_IOS_CLOSED` (the bus shut down) or
/// `BUS_IOS_BODY_FAILED`; `message` (UTF-8, borrowed) says why. Last callback but
/// `on_release`; it may come without `on_head` (the bus shut down first).
pub type BusIosOnError = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        status: BusIosStatus,
        message: *const u8,
        message_len: usize,
    ),
>;
/// Rust will never use `context` again: free it. Called exactly once, on any thread,
/// after every other callback has returned — possibly from inside the call that freed
/// the handle. May be null.
pub type BusIosOnRelease = Option<unsafe extern "C" fn(context: *mut c_void)>;
/// One encoded frame for the page, borrowed for the callback.
pub type BusIosOnFrame =
    Option<unsafe extern "C" fn(context: *mut c_void, frame: *const u8, len: usize)>;

/// Where a request's response goes.
///
/// Order per request: `on_head`, `on_data`* (each within the credit granted), then
/// `on_end` or `on_error` — or `on_error` alone — then `on_release`. One at a time, on
/// bus worker threads. After `bus_ios_request_cancel` or `bus_ios_request_free` returns
/// (called from outside a callback), none but `on_release` is made; from inside a
/// callback, a callback of another request already running on another thread may still
/// finish. All but `on_release` are required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BusIosResponseCallbacks {
    /// Passed back to every callback.
    pub context: *mut c_void,
    /// See `BusIosOnHead`.
    pub on_head: BusIosOnHead,
    /// See `BusIosOnData`.
    pub on_data: BusIosOnData,
    /// See `BusIosOnEnd`.
    pub on_end: BusIosOnEnd,
    /// See `BusIosOnError`.
    pub on_error: BusIosOnError,
    /// See `BusIosOnRelease`.
    pub on_release: BusIosOnRelease,
}

/// Where a session's frames for the page go. `on_frame` is made from bus worker threads
/// and from the thread calling `bus_ios_session_receive` (a frame refused at once is
/// answered there); none after `bus_ios_session_close` returns (called from outside a
/// callback). `on_frame` is required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BusIosFrameCallbacks {
    /// Passed back to every callback.
    pub context: *mut c_void,
    /// See `BusIosOnFrame`.
    pub on_frame: BusIosOnFrame,
    /// See `BusIosOnRelease`.
    pub on_release: BusIosOnRelease,
}

// ---------------------------------------------------------------------------------------
// Exports

/// The ABI version of the library (`BUS_IOS_ABI_VERSION` of its header); a host checks
/// it against the header it was compiled with.
///
/// # Safety
/// None needed: no arguments.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_abi_version() -> u32 {
    BUS_IOS_ABI_VERSION
}

/// Copies the calling thread's last error message (UTF-8) into a new buffer: `*out` is
/// filled and must be given back with `bus_ios_bytes_free`. Empty when no call on this
/// thread failed yet. Calls that succeed leave the message as it was.
///
/// # Safety
/// `out` is null or valid for writing one `BusIosBytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_last_error(out: *mut BusIosBytes) -> BusIosStatus {
    guard(|| {
        let out = non_null_mut(out, "out")?;
        let message = error::last_error().unwrap_or_default();
        let handed = buffer::hand_out(message.as_bytes());
        // SAFETY: `out` is non-null and the caller promises it is valid for one write.
        unsafe {
            out.write(BusIosBytes {
                ptr: handed.ptr,
                len: handed.len,
            })
        };
        Ok(())
    })
}

/// Frees a buffer this library handed out, and zeroes `*bytes`. A buffer already freed
/// (even through a copy of the struct), or one this library did not hand out, is refused
/// with `BUS_IOS_BAD_HANDLE`; a zeroed one (`ptr` null) is accepted and does nothing.
///
/// # Safety
/// `bytes` is null or valid for reading and writing one `BusIosBytes`. Its `ptr` is only
/// compared, never dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_bytes_free(bytes: *mut BusIosBytes) -> BusIosStatus {
    guard(|| {
        let bytes = non_null_mut(bytes, "bytes")?;
        // SAFETY: non-null, and the caller promises it is valid for reads.
        let value = unsafe { bytes.read() };
        if value.ptr.is_null() {
            return Ok(());
        }
        buffer::free(value.ptr, value.len)?;
        // SAFETY: as above, valid for writes.
        unsafe {
            bytes.write(BusIosBytes {
                ptr: std::ptr::null(),
                len: 0,
            })
        };
        Ok(())
    })
}

/// Releases the C side's handle to a bus. A bus the app registered with
/// `bridge_ios::register` is shut down (requests still running end with
/// `on_error(BUS_IOS_CLOSED)` or a 503); one registered with `register_handle` is only
/// forgotten. Afterwards the handle is refused with `BUS_IOS_BAD_HANDLE`.
///
/// # Safety
/// None needed: any value is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_bus_release(bus: u64) -> BusIosStatus {
    guard(|| crate::registry::release_bus(bus))
}

/// Starts a request on `bus`; its handle is written to `*out_request` (which must be
/// given back with `bus_ios_request_free`). The response arrives through `callbacks`,
/// which the library holds until it calls `on_release`. Nothing is read from `request`
/// after this returns: its views may be reused at once.
///
/// On any status but `BUS_IOS_OK`, nothing was started, `*out_request` is untouched and
/// no callback (not even `on_release`) will be made.
///
/// Returns `BUS_IOS_CLOSED` when the bus is shut down, `BUS_IOS_INVALID_ARGUMENT` when
/// the method, URL, a header or the caller is not valid, `BUS_IOS_TOO_LARGE` over
/// `BUS_IOS_MAX_HEADERS` or `BUS_IOS_MAX_HEAD_BYTES`. HTTP-level refusals (no route,
/// forbidden, too large for the route, overload) are responses, through the callbacks.
///
/// # Safety
/// `request`, `callbacks` and `out_request` are null or valid for one read (write) of
/// their type; every pointer inside `request` is null or valid for its length (count)
/// for the duration of the call; the callbacks follow the rules of
/// `BusIosResponseCallbacks` and `context` may be used from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_request_start(
    bus: u64,
    request: *const BusIosRequest,
    callbacks: *const BusIosResponseCallbacks,
    out_request: *mut u64,
) -> BusIosStatus {
    guard(|| {
        // SAFETY: the caller promises each pointer is null or valid for one read.
        let (request, callbacks) =
            unsafe { (read(request, "request")?, read(callbacks, "callbacks")?) };
        let out_request = non_null_mut(out_request, "out_request")?;
        let callbacks = CheckedResponse::new(&callbacks)?;
        // SAFETY: the caller promises the views inside `request` are valid for the call.
        let spec = unsafe { request_spec(&request)? };
        let prepared = request::prepare(bus, spec)?;
        let (handle, armed) = prepared.launch(Box::new(CResponse(callbacks)));
        // SAFETY: non-null, and the caller promises it is valid for one write.
        unsafe { out_request.write(handle) };
        drop(armed); // the pump may deliver now: the host has the handle
        Ok(())
    })
}

/// Pushes `len` bytes of request body (copied; `data` is borrowed for the call). Waits at
/// most `timeout_ms` milliseconds for room in the request's queue (0: never waits; a
/// call from a bus worker thread, e.g. inside a callback, never waits either) and returns
/// `BUS_IOS_WOULD_BLOCK` when there was none: nothing was taken, try again with the same
/// bytes. A chunk is taken whole or not at all.
///
/// Returns `BUS_IOS_CLOSED` when the handler no longer reads the body (it answered
/// without it; stop sending and let the response finish) or the request was cancelled,
/// `BUS_IOS_INVALID_STATE` after `bus_ios_request_end` or for a request without a body,
/// `BUS_IOS_TOO_LARGE` over `BUS_IOS_MAX_CHUNK` (nothing read). `data` may be null when
/// `len` is 0.
///
/// Blocking with a timeout was chosen over "would block" + a writable callback because
/// the host's pump (an `InputStream` read loop on its own thread) blocks anyway; the
/// timeout lets it notice a stopped task without a second channel.
///
/// # Safety
/// `data` is null or valid for reads of `len` bytes for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_request_write(
    request: u64,
    data: *const u8,
    len: usize,
    timeout_ms: u32,
) -> BusIosStatus {
    guard(|| {
        check_size("a request body chunk", len, BUS_IOS_MAX_CHUNK)?;
        // SAFETY: the caller promises `data` is valid for `len` bytes during the call.
        let chunk = unsafe { view(data, len, "data")? };
        request::write(request, chunk, Duration::from_millis(u64::from(timeout_ms)))
    })
}

/// Ends the request body. A second call returns `BUS_IOS_INVALID_STATE`; so does a
/// request started without a body.
///
/// # Safety
/// None needed: any value is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_request_end(request: u64) -> BusIosStatus {
    guard(|| request::end(request))
}

/// Allows `bytes` more response body bytes (added to the window and earlier credit).
/// Grant it as the response is consumed — for `WKURLSchemeTask`, after each
/// `didReceive(data)` — so a consumer that stops consuming stops the producer. Credit
/// for a request that finished or was cancelled is ignored.
///
/// # Safety
/// None needed: any value is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_request_credit(request: u64, bytes: u32) -> BusIosStatus {
    guard(|| request::credit(request, bytes))
}

/// Cancels the request (`webView(_:stop:)`): the handler's future and response body are
/// dropped, its request body is refused, and — called from outside a callback — no
/// callback but `on_release` runs once this returns. Cancelling a request whose response
/// already ended is `BUS_IOS_OK` (the two race); a second cancel is
/// `BUS_IOS_INVALID_STATE`. The handle stays valid until `bus_ios_request_free`.
///
/// # Safety
/// None needed: any value is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_request_cancel(request: u64) -> BusIosStatus {
    guard(|| request::cancel(request))
}

/// Frees the request handle, cancelling the request if it still runs (as
/// `bus_ios_request_cancel`). `on_release` follows once the library is done with the
/// context — at once or shortly after, on any thread. A second free, or any use of the
/// handle afterwards, is `BUS_IOS_BAD_HANDLE`.
///
/// # Safety
/// None needed: any value is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_request_free(request: u64) -> BusIosStatus {
    guard(|| request::free(request))
}

/// Opens a frames session on `bus` for a page the host identified as `caller` (which
/// must be `BUS_IOS_CALLER_VERIFIED`); its handle is written to `*out_session` and must
/// be given back with `bus_ios_session_close`. Frames for the page arrive through
/// `callbacks`. On any status but `BUS_IOS_OK` nothing was opened and no callback will
/// be made.
///
/// # Safety
/// `caller`, `callbacks` and `out_session` are null or valid for one read (write) of
/// their type; `caller.origin` is null or valid for `origin_len` bytes during the call;
/// the callbacks follow the rules of `BusIosFrameCallbacks` and `context` may be used
/// from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_session_open(
    bus: u64,
    caller: *const BusIosCaller,
    callbacks: *const BusIosFrameCallbacks,
    out_session: *mut u64,
) -> BusIosStatus {
    guard(|| {
        // SAFETY: the caller promises each pointer is null or valid for one read.
        let (caller, callbacks) =
            unsafe { (read(caller, "caller")?, read(callbacks, "callbacks")?) };
        let out_session = non_null_mut(out_session, "out_session")?;
        let on_frame = callbacks
            .on_frame
            .ok_or(Error::NullPointer("callbacks.on_frame"))?;
        // SAFETY: the caller promises `caller.origin` is valid for its length.
        let caller = match unsafe { caller_source(&caller)? } {
            CallerSource::Verified { origin, frame } => {
                let caller = Caller::new(Transport::Frames).with_frame(frame);
                match origin {
                    Some(origin) => caller.with_origin(origin),
                    None => caller,
                }
            }
            CallerSource::SchemeHeaders { .. } => {
                return Err(Error::InvalidArgument(
                    "a session's caller must be BUS_IOS_CALLER_VERIFIED".into(),
                ));
            }
        };
        let prepared = session::prepare(bus, caller)?;
        let handle = prepared.open(Box::new(CFrames {
            context: Context(callbacks.context),
            on_frame,
            on_release: callbacks.on_release,
            armed: AtomicBool::new(true),
        }))?;
        // SAFETY: non-null, and the caller promises it is valid for one write.
        unsafe { out_session.write(handle) };
        Ok(())
    })
}

/// Feeds one encoded frame from the page (copied; `frame` is borrowed for the call).
/// Returns `BUS_IOS_REJECTED` when the session refused it — the page was sent an `Error`
/// frame saying why, and the session goes on — and `BUS_IOS_TOO_LARGE` over
/// `BUS_IOS_MAX_FRAME` (nothing read, nothing sent to the page).
///
/// # Safety
/// `frame` is null or valid for reads of `len` bytes for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_session_receive(
    session: u64,
    frame: *const u8,
    len: usize,
) -> BusIosStatus {
    guard(|| {
        check_size("a frame", len, session::MAX_FRAME_BYTES)?;
        // SAFETY: the caller promises `frame` is valid for `len` bytes during the call.
        let bytes = unsafe { view(frame, len, "frame")? };
        session::receive(session, bytes)
    })
}

/// Closes the session (the page went away or navigated) and frees its handle: every
/// open stream is cancelled and — called from outside a callback — no `on_frame` runs
/// once this returns; `on_release` follows. A second close is `BUS_IOS_BAD_HANDLE`.
///
/// # Safety
/// None needed: any value is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn bus_ios_session_close(session: u64) -> BusIosStatus {
    guard(|| session::close(session))
}

/// Builds one of the scripts the host injects for the app origin `origin` (UTF-8,
/// `scheme://host[:port]`): `BUS_IOS_SCRIPT_PAGE` or `BUS_IOS_SCRIPT_RELAY` (see the
/// README). `*out` is filled with a new buffer to give back with `bus_ios_bytes_free`.
///
/// # Safety
/// `origin` is null or valid for `origin_len` bytes during the call; `out` is null or
/// valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bus_ios_script(
    which: u32,
    origin: *const u8,
    origin_len: usize,
    out: *mut BusIosBytes,
) -> BusIosStatus {
    guard(|| {
        let out = non_null_mut(out, "out")?;
        check_size("an origin", origin_len, 4096)?;
        // SAFETY: the caller promises `origin` is valid for `origin_len` bytes.
        let origin = utf8(unsafe { view(origin, origin_len, "origin")? }, "origin")?;
        if !is_app_origin(origin) {
            return Err(Error::InvalidArgument(format!(
                "{origin:?} is not an origin (scheme://host[:port])"
            )));
        }
        let script = match which {
            BUS_IOS_SCRIPT_PAGE => scripts::page_script(origin),
            BUS_IOS_SCRIPT_RELAY => scripts::relay_script(origin),
            other => return Err(Error::InvalidArgument(format!("unknown script {other}"))),
        };
        let handed = buffer::hand_out(script.as_bytes());
        // SAFETY: non-null, and the caller promises it is valid for one write.
        unsafe {
            out.write(BusIosBytes {
                ptr: handed.ptr,
                len: handed.len,
            })
        };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Helpers: argument reading, the panic boundary, the C callbacks as safe sinks.

/// Runs one export's body: its error becomes a status (and the thread's last error), a
/// panic becomes `BUS_IOS_PANIC`.
fn guard(body: impl FnOnce() -> Result<(), Error>) -> BusIosStatus {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        Err(Error::Panic(message))
    });
    match outcome {
        Ok(()) => BUS_IOS_OK,
        Err(error) => {
            // Formatting cannot panic for these types; the guard is for the calls above.
            error::set_last_error(error.describe());
            error.status().code()
        }
    }
}

fn non_null_mut<T>(ptr: *mut T, what: &'static str) -> Result<*mut T, Error> {
    if ptr.is_null() {
        Err(Error::NullPointer(what))
    } else {
        Ok(ptr)
    }
}

/// Copies one `T` from C.
///
/// # Safety
/// `ptr` is null or valid for one read of a `T`.
unsafe fn read<T: Copy>(ptr: *const T, what: &'static str) -> Result<T, Error> {
    if ptr.is_null() {
        return Err(Error::NullPointer(what));
    }
    // SAFETY: non-null, and the caller promises it is valid and aligned for one read.
    Ok(unsafe { ptr.read() })
}

/// A borrowed view of `len` bytes at `ptr` (empty when `len` is 0, whatever `ptr`).
/// The caller has checked `len` against its limit (far below `isize::MAX`).
///
/// # Safety
/// `ptr` is null or valid for reads of `len` bytes for `'a`, and not written meanwhile.
unsafe fn view<'a>(ptr: *const u8, len: usize, what: &'static str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::NullPointer(what));
    }
    // SAFETY: non-null, valid for `len` bytes during 'a (the caller's promise), and `len`
    // is within a limit far below `isize::MAX`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error::InvalidArgument(format!("{what} is not UTF-8")))
}

/// `scheme://host[:port]`, printable ASCII, no path.
fn is_app_origin(origin: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && !host.is_empty()
        && origin.bytes().all(|b| b.is_ascii_graphic())
        && !host.contains(['/', '?', '#', '"', '\'', '\\'])
}

/// Reads the caller of a request or session.
///
/// # Safety
/// `caller.origin` is null or valid for `caller.origin_len` bytes during the call.
unsafe fn caller_source(caller: &BusIosCaller) -> Result<CallerSource, Error> {
    check_size("an origin", caller.origin_len, 4096)?;
    // SAFETY: the caller's promise, passed on.
    let origin = utf8(
        unsafe { view(caller.origin, caller.origin_len, "caller.origin")? },
        "the caller's origin",
    )?;
    let frame = match caller.frame {
        BUS_IOS_FRAME_UNKNOWN => FrameKind::Unknown,
        BUS_IOS_FRAME_MAIN => FrameKind::Main,
        BUS_IOS_FRAME_SUB => FrameKind::Sub,
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown frame kind {other}"
            )));
        }
    };
    match caller.source {
        BUS_IOS_CALLER_VERIFIED => Ok(CallerSource::Verified {
            origin: (!origin.is_empty()).then(|| origin.to_owned()),
            frame,
        }),
        BUS_IOS_CALLER_SCHEME_HEADERS => {
            if !is_app_origin(origin) {
                return Err(Error::InvalidArgument(format!(
                    "BUS_IOS_CALLER_SCHEME_HEADERS needs the app origin (scheme://host[:port]), got {origin:?}"
                )));
            }
            Ok(CallerSource::SchemeHeaders {
                app_origin: origin.to_owned(),
            })
        }
        other => Err(Error::InvalidArgument(format!(
            "unknown caller source {other}"
        ))),
    }
}

/// Reads and validates a request head. Counts and sizes are checked before any header is
/// copied.
///
/// # Safety
/// Every pointer in `request` is null or valid for its length (count) during the call.
unsafe fn request_spec(request: &BusIosRequest) -> Result<RequestSpec, Error> {
    check_size("header_count", request.header_count, BUS_IOS_MAX_HEADERS)?;
    let head_bytes = [
        request.method_len,
        request.url_len,
        request.caller.origin_len,
    ];
    let mut total = head_bytes
        .iter()
        .try_fold(0usize, |sum, n| sum.checked_add(*n));
    if request.header_count > 0 && request.headers.is_null() {
        return Err(Error::NullPointer("request.headers"));
    }
    let headers: &[BusIosHeader] = if request.header_count == 0 {
        &[]
    } else {
        // SAFETY: non-null, and the caller promises `header_count` headers are there;
        // the count is at most BUS_IOS_MAX_HEADERS.
        unsafe { std::slice::from_raw_parts(request.headers, request.header_count) }
    };
    for header in headers {
        total = total
            .and_then(|t| t.checked_add(header.name_len))
            .and_then(|t| t.checked_add(header.value_len));
    }
    check_size(
        "the request head (method, URL, origin, headers)",
        total.unwrap_or(usize::MAX),
        BUS_IOS_MAX_HEAD_BYTES,
    )?;
    // SAFETY: the caller promises each pointer is valid for its length during the call,
    // and the lengths are within BUS_IOS_MAX_HEAD_BYTES (for this and the views below).
    let method = unsafe { view(request.method, request.method_len, "request.method")? };
    // SAFETY: as above.
    let url = unsafe { view(request.url, request.url_len, "request.url")? };
    let mut pairs = Vec::with_capacity(headers.len());
    for header in headers {
        // SAFETY: as above.
        let name = unsafe { view(header.name, header.name_len, "a header name")? };
        // SAFETY: as above.
        let value = unsafe { view(header.value, header.value_len, "a header value")? };
        pairs.push((name, value));
    }
    // SAFETY: as above.
    let caller = unsafe { caller_source(&request.caller)? };
    RequestSpec::parse(
        method,
        url,
        &pairs,
        caller,
        request.has_body,
        request.window,
    )
}

/// The host's context pointer.
struct Context(*mut c_void);

// SAFETY: the host promises (bus_ios.h, "Threads"; the `# Safety` of the functions that
// take callbacks) that its context may be used from any thread, and Rust only ever passes
// it back to the host's own callbacks.
unsafe impl Send for Context {}
// SAFETY: as for `Send`; Rust never reads or writes through the pointer itself.
unsafe impl Sync for Context {}

/// Response callbacks checked for null, not yet owned (no release on drop).
#[derive(Clone, Copy)]
struct CheckedResponse {
    context: *mut c_void,
    on_head: unsafe extern "C" fn(*mut c_void, u16, *const BusIosHeader, usize),
    on_data: unsafe extern "C" fn(*mut c_void, *const u8, usize),
    on_end: unsafe extern "C" fn(*mut c_void),
    on_error: unsafe extern "C" fn(*mut c_void, BusIosStatus, *const u8, usize),
    on_release: BusIosOnRelease,
}

impl CheckedResponse {
    fn new(callbacks: &BusIosResponseCallbacks) -> Result<Self, Error> {
        Ok(CheckedResponse {
            context: callbacks.context,
            on_head: callbacks
                .on_head
                .ok_or(Error::NullPointer("callbacks.on_head"))?,
            on_data: callbacks
                .on_data
                .ok_or(Error::NullPointer("callbacks.on_data"))?,
            on_end: callbacks
                .on_end
                .ok_or(Error::NullPointer("callbacks.on_end"))?,
            on_error: callbacks
                .on_error
                .ok_or(Error::NullPointer("callbacks.on_error"))?,
            on_release: callbacks.on_release,
        })
    }
}

/// A started request's callbacks: `on_release` when dropped.
struct CResponse(CheckedResponse);

// SAFETY: the context may be used from any thread (see `Context`), and the function
// pointers are plain code addresses.
unsafe impl Send for CResponse {}
// SAFETY: as for `Send`; the gate in `request` makes the calls one at a time.
unsafe impl Sync for CResponse {}

impl ResponseSink for CResponse {
    fn head(&self, status: u16, headers: &[(&[u8], &[u8])]) {
        let views: Vec<BusIosHeader> = headers
            .iter()
            .map(|(name, value)| BusIosHeader {
                name: name.as_ptr(),
                name_len: name.len(),
                value: value.as_ptr(),
                value_len: value.len(),
            })
            .collect();
        // SAFETY: the host's callback, given its own context and views that live until
        // it returns (`views` and the header bytes it points into outlive the call).
        unsafe { (self.0.on_head)(self.0.context, status, views.as_ptr(), views.len()) }
    }

    fn data(&self, chunk: &[u8]) {
        // SAFETY: the host's callback, with its context and a view valid during the call.
        unsafe { (self.0.on_data)(self.0.context, chunk.as_ptr(), chunk.len()) }
    }

    fn end(&self) {
        // SAFETY: the host's callback with its context.
        unsafe { (self.0.on_end)(self.0.context) }
    }

    fn error(&self, status: Status, message: &str) {
        // SAFETY: the host's callback, with its context and a view valid during the call.
        unsafe {
            (self.0.on_error)(
                self.0.context,
                status.code(),
                message.as_ptr(),
                message.len(),
            )
        }
    }
}

impl Drop for CResponse {
    fn drop(&mut self) {
        if let Some(release) = self.0.on_release {
            // SAFETY: the host's callback with its context, once: this value is dropped
            // once, after the last callback returned (every callback borrows it).
            unsafe { release(self.0.context) }
        }
    }
}

/// A session's callbacks: `on_release` when dropped, unless disarmed.
struct CFrames {
    context: Context,
    on_frame: unsafe extern "C" fn(*mut c_void, *const u8, usize),
    on_release: BusIosOnRelease,
    armed: AtomicBool,
}

impl FrameOut for CFrames {
    fn frame(&self, bytes: &[u8]) {
        // SAFETY: the host's callback, with its context and a view valid during the call.
        unsafe { (self.on_frame)(self.context.0, bytes.as_ptr(), bytes.len()) }
    }

    fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

impl Drop for CFrames {
    fn drop(&mut self) {
        if let (Some(release), true) = (self.on_release, self.armed.load(Ordering::SeqCst)) {
            // SAFETY: the host's callback with its context, once: this value is dropped
            // once, after the last callback returned (every callback borrows it).
            unsafe { release(self.context.0) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_match_the_statuses() {
        for (constant, status) in [
            (BUS_IOS_OK, Status::Ok),
            (BUS_IOS_NULL_POINTER, Status::NullPointer),
            (BUS_IOS_BAD_HANDLE, Status::BadHandle),
            (BUS_IOS_INVALID_ARGUMENT, Status::InvalidArgument),
            (BUS_IOS_TOO_LARGE, Status::TooLarge),
            (BUS_IOS_CLOSED, Status::Closed),
            (BUS_IOS_WOULD_BLOCK, Status::WouldBlock),
            (BUS_IOS_INVALID_STATE, Status::InvalidState),
            (BUS_IOS_REJECTED, Status::Rejected),
            (BUS_IOS_BODY_FAILED, Status::BodyFailed),
            (BUS_IOS_PANIC, Status::Panic),
        ] {
            assert_eq!(constant, status.code(), "{}", status.name());
        }
        assert_eq!(BUS_IOS_MAX_FRAME, bus_core::protocol::MAX_FRAME);
        assert_eq!(BUS_IOS_MAX_FRAME, session::MAX_FRAME_BYTES);
        assert_eq!(BUS_IOS_UPLOAD_QUEUE_BYTES, crate::upload::QUEUE_BYTES);
        assert_eq!(BUS_IOS_MAX_CHUNK, request::MAX_RESPONSE_CHUNK);
        assert_eq!(
            scripts::CONTENT_WORLD,
            "inproc-bus",
            "named in BUS_IOS_SCRIPT_RELAY's docs"
        );
        assert_eq!(
            scripts::MESSAGE_HANDLER,
            "inprocBus",
            "named in BUS_IOS_SCRIPT_RELAY's docs"
        );
        assert_eq!(
            BUS_IOS_DEFAULT_WINDOW,
            bus_core::protocol::INITIAL_UPLOAD_WINDOW
        );
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, BUS_IOS_PANIC);
        assert_eq!(
            error::last_error().as_deref(),
            Some("BUS_IOS_PANIC: panic in bridge-ios: boom")
        );
        assert_eq!(guard(|| Ok(())), BUS_IOS_OK);
        let status = guard(|| Err(Error::WouldBlock("full")));
        assert_eq!(status, BUS_IOS_WOULD_BLOCK);
    }

    #[test]
    fn last_error_and_bytes_free_round_trip() {
        assert_eq!(bus_ios_request_end(0), BUS_IOS_BAD_HANDLE);
        let mut out = BusIosBytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        // SAFETY: `out` is a valid local.
        assert_eq!(unsafe { bus_ios_last_error(&mut out) }, BUS_IOS_OK);
        // SAFETY: the library handed out `len` bytes at `ptr`.
        let text = unsafe { std::slice::from_raw_parts(out.ptr, out.len) };
        assert!(
            std::str::from_utf8(text)
                .unwrap()
                .contains("request handle 0")
        );
        let mut copy = out;
        // SAFETY: valid locals.
        assert_eq!(unsafe { bus_ios_bytes_free(&mut out) }, BUS_IOS_OK);
        assert!(out.ptr.is_null());
        // SAFETY: a valid local whose pointer is only compared.
        assert_eq!(unsafe { bus_ios_bytes_free(&mut copy) }, BUS_IOS_BAD_HANDLE);
        let null = std::ptr::null_mut();
        // SAFETY: null is refused, not read.
        let status = unsafe { bus_ios_bytes_free(null) };
        assert_eq!(status, BUS_IOS_NULL_POINTER);
    }

    #[test]
    fn origins_for_scripts_are_checked() {
        assert!(is_app_origin("app://localhost"));
        assert!(is_app_origin("https://example.com:8443"));
        for bad in [
            "",
            "app:",
            "app://",
            "app://x/y",
            "app://a b",
            "://x",
            "app://\"x",
        ] {
            assert!(!is_app_origin(bad), "{bad}");
        }
    }
}
