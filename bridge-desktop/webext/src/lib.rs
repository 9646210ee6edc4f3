//! The WebKitGTK **web process extension** of bridge-desktop: a `socketpair` between the
//! relay's isolated world and the host, in place of WebKit's script messages.
//!
//! WebKit loads this library into each web process of a WebView whose host found it (see
//! bridge-desktop's `HostConfig::web_process_extension`). Per page, it asks its view for
//! one end of a socketpair (a `WebKitUserMessage` whose reply carries the fd): nothing
//! listens anywhere, and no other process can connect to a pair. It defines one function,
//! `__inprocBusWire`, in the relay's isolated world (`inproc-bus`) of the **main frame
//! only**; page script cannot reach that world, and subframes never get the function.
//!
//! What crosses the socket is what the relay sent and received as script messages, byte for
//! byte (the host checks it the same way: a session opens only with the token of its view's
//! last commit), plus request bodies as raw bytes. Each message is a little-endian `u32`
//! length of what follows, then a kind:
//!
//! | from | kind | then |
//! |---|---|---|
//! | page | 1 frames | the relay's frames message (`"<doc> <base64 frame>…"`) |
//! | page | 2 ask | `u32` id, the relay's request for frames (`"<doc>"`, `"<doc> open <token>"`, …) |
//! | page | 3 carry | `u32` id, `u32` length of a header `"<doc> <stream>"`, the header, the body's bytes |
//! | host | 1 reject | `u32` id, text: the ask or carry `id` settles as a rejection with that message |
//! | host | 2 resolve | `u32` id: it settles with `undefined` |
//! | host | 3 frames | `u32` id, `u32` count, then each frame's `u32` length and bytes: the ask settles as a rejection whose `frames` is an array of `Uint8Array`s |
//!
//! The function, `__inprocBusWire(kind, …)` (every call on the web process's main thread;
//! writes never block it: what the socket does not take at once is queued, in order, and
//! written as the socket becomes writable; a body from its typed array's own storage, kept
//! referenced until written; a failed write ends the connection, and the call returns
//! `null` or `false`):
//! - `(0)`: whether the socket has arrived (the handshake is asynchronous);
//! - `(1, text)`: sends frames; `true` once queued, `false` if the socket failed;
//! - `(2, text)`: sends an ask; its id (unique for the page), `false` if the socket failed,
//!   `null` for an argument that is not a string;
//! - `(3, header, bytes)`: sends a body from a typed array's own storage (no copy in the
//!   page); its id, `false` if the socket failed, `null` for arguments that are not a
//!   string and a typed array;
//! - `(4, listener)`: `listener(kind, id, text)` (for kind 3, an array of `Uint8Array`s
//!   in place of the text) gets the host's messages, each in a task of
//!   the web process's main loop, and `listener(0, 0)` once when the socket closes. A later
//!   call replaces the listener (a new document of the page).
//!
//! Found on the way (bridge-desktop's docs/ARCHITECTURE.md, "Binary carriers"): an
//! `ArrayBuffer` over this library's own memory aborts the web process ("Disabling
//! Primitive gigacage is forbidden"), so nothing here hands the page memory of its own.
#![cfg(target_os = "linux")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_void};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;

/// The relay's isolated world (bridge-desktop's `channel::WORLD`).
const WORLD: &CStr = c"inproc-bus";
/// The handshake's message name (bridge-desktop's `socket::HANDSHAKE`): the wire's name and
/// version. A host of another version does not answer it, and the page stays on script
/// messages; change the number with any change to the wire.
const HANDSHAKE: &CStr = c"inproc-bus-socket/1";
/// The function's name in [`WORLD`].
const FUNCTION: &CStr = c"__inprocBusWire";

const FRAMES: u8 = 1;
const ASK: u8 = 2;
const CARRY: u8 = 3;
/// Host → page: frames for an ask, as bytes.
const FRAMES_BACK: u8 = 3;

/// The longest message taken from the host (its replies are at most 2 MiB of base64 and a
/// frame); a longer one ends the connection.
const MAX_IN: usize = 16 << 20;

/// One page's connection.
struct Conn {
    stream: UnixStream,
    /// What the socket has not taken yet, in order (written as it becomes writable).
    out: std::collections::VecDeque<Queued>,
    /// The `G_IO_OUT` watch while `out` is not empty.
    out_watch: Option<u32>,
    /// The relay's listener, with a reference of ours.
    listener: Option<*mut ffi::JSCValue>,
    /// The last id given out.
    last_id: u32,
    /// The main loop's watch on the socket for the host's messages, once there is a
    /// listener.
    in_watch: Option<u32>,
}

thread_local! {
    /// Connections by page id (`webkit_web_page_get_id`). Main thread only. Leaked on
    /// purpose, so nothing in it (a queued body's JavaScriptCore value) is finalised by a
    /// thread-local destructor at exit, as bridge-desktop's host state is leaked for the same
    /// reason (JavaScriptCore objects finalised then abort in libpas).
    static PAGES: &'static RefCell<HashMap<u64, Conn>> = Box::leak(Box::default());
}

mod ffi;

/// The entry point WebKit calls in every web process it starts with this library in its
/// extensions directory.
///
/// # Safety
/// Called by WebKit once per web process with its `WebKitWebExtension`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn webkit_web_extension_initialize(extension: *mut ffi::Object) {
    // SAFETY: the signals and their handlers' signatures are WebKit's (WebKitWebExtension
    // `page-created`, WebKitScriptWorld `window-object-cleared`); the world lives for the
    // process (it is never released).
    unsafe {
        ffi::connect(extension, c"page-created", page_created as *const ());
        let world = ffi::webkit_script_world_new_with_name(WORLD.as_ptr());
        ffi::connect(
            world,
            c"window-object-cleared",
            window_object_cleared as *const (),
        );
    }
}

/// `page-created`: asks the page's view for its end of a socketpair.
unsafe extern "C" fn page_created(
    _extension: *mut ffi::Object,
    page: *mut ffi::Object,
    _data: ffi::gpointer,
) {
    // SAFETY: `page` is the live page the signal names; the message is floating and sunk
    // by the call; the page id travels as the callback's data (an integer, not a pointer).
    unsafe {
        let id = ffi::webkit_web_page_get_id(page);
        let message = ffi::webkit_user_message_new(HANDSHAKE.as_ptr(), std::ptr::null_mut());
        ffi::webkit_web_page_send_message_to_view(
            page,
            message,
            std::ptr::null_mut(),
            Some(handshake_replied),
            id as usize as ffi::gpointer,
        );
    }
}

/// The view's reply: one file descriptor, this page's end of the pair. A view that does
/// not serve the bus (a related view, a popup) does not answer: its page has no socket.
unsafe extern "C" fn handshake_replied(
    source: *mut ffi::GObject,
    result: *mut ffi::GAsyncResult,
    data: ffi::gpointer,
) {
    let page = data as usize as u64;
    // SAFETY: `source` is the page the message went from and `result` its answer; the fd
    // `g_unix_fd_list_get` returns is a duplicate that we own; errors are ours to free.
    unsafe {
        let mut error: *mut ffi::GError = std::ptr::null_mut();
        let reply =
            ffi::webkit_web_page_send_message_to_view_finish(source.cast(), result, &mut error);
        if !error.is_null() {
            glib_sys::g_error_free(error);
            error = std::ptr::null_mut();
        }
        if reply.is_null() {
            return;
        }
        let list = ffi::webkit_user_message_get_fd_list(reply);
        let fd = if list.is_null() || gio_sys::g_unix_fd_list_get_length(list.cast()) != 1 {
            -1
        } else {
            gio_sys::g_unix_fd_list_get(list.cast(), 0, &mut error)
        };
        if !error.is_null() {
            glib_sys::g_error_free(error);
        }
        gobject_sys::g_object_unref(reply.cast());
        if fd < 0 {
            return;
        }
        let conn = Conn {
            stream: UnixStream::from_raw_fd(fd),
            out: std::collections::VecDeque::new(),
            out_watch: None,
            listener: None,
            last_id: 0,
            in_watch: None,
        };
        let old = PAGES.with(|p| p.borrow_mut().insert(page, conn));
        if let Some(old) = old {
            release(old);
        }
    }
}

/// Lets a connection go (its listener's reference, its queued bodies' references, its
/// watch; its socket closes with it).
fn release(mut conn: Conn) {
    if let Some(watch) = conn.in_watch.take() {
        // SAFETY: a source id of ours, still attached (`readable` takes it out before it
        // lets a connection go and returns FALSE).
        unsafe { glib_sys::g_source_remove(watch) };
    }
    if let Some(watch) = conn.out_watch.take() {
        // SAFETY: a source id of ours, still attached (removed only here or by returning
        // FALSE from `writable`, which clears `out_watch` first).
        unsafe { glib_sys::g_source_remove(watch) };
    }
    conn.out.clear();
    if let Some(listener) = conn.listener {
        // SAFETY: the reference `wire(4)` took.
        unsafe { gobject_sys::g_object_unref(listener.cast()) };
    }
}

/// `window-object-cleared` of [`WORLD`]: defines the function in the main frame.
unsafe extern "C" fn window_object_cleared(
    world: *mut ffi::Object,
    page: *mut ffi::Object,
    frame: *mut ffi::Object,
    _data: ffi::gpointer,
) {
    // SAFETY: `world`, `page` and `frame` are the signal's live objects; the context and the
    // function value are ours to release after handing the function to the context.
    unsafe {
        if ffi::webkit_frame_is_main_frame(frame) == 0 {
            return;
        }
        let context = ffi::webkit_frame_get_js_context_for_script_world(frame, world);
        if context.is_null() {
            return;
        }
        let id = ffi::webkit_web_page_get_id(page);
        let callback: unsafe extern "C" fn() = std::mem::transmute(wire as *const ());
        let function = javascriptcore_rs_sys::jsc_value_new_function_variadic(
            context,
            FUNCTION.as_ptr(),
            Some(callback),
            id as usize as ffi::gpointer,
            None,
            javascriptcore_rs_sys::jsc_value_get_type(),
        );
        javascriptcore_rs_sys::jsc_context_set_value(context, FUNCTION.as_ptr(), function);
        gobject_sys::g_object_unref(function.cast());
        gobject_sys::g_object_unref(context.cast());
    }
}

/// A message, or what is left of it, waiting for the socket.
struct Queued {
    /// The length, the kind and the small parts.
    head: Vec<u8>,
    /// A body read in place from a typed array (pinned by `get_data`, kept alive by our
    /// reference), written after `head`.
    body: Option<(*mut ffi::JSCValue, *const u8, usize)>,
    /// Bytes of `head` then `body` already written.
    written: usize,
}

impl Drop for Queued {
    fn drop(&mut self) {
        if let Some((value, _, _)) = self.body {
            // SAFETY: the reference `queue` took.
            unsafe { gobject_sys::g_object_unref(value.cast()) };
        }
    }
}

/// Writes what the socket takes now (never blocking: the page's thread must not wait on
/// the host). `false`: the socket failed.
fn flush(conn: &mut Conn) -> bool {
    while let Some(front) = conn.out.front_mut() {
        let (bytes, from): (&[u8], usize) = if front.written < front.head.len() {
            (&front.head, front.written)
        } else {
            match front.body {
                // SAFETY: the typed array's storage, pinned and kept alive (see `Queued`).
                Some((_, data, len)) => (
                    unsafe { std::slice::from_raw_parts(data, len) },
                    front.written - front.head.len(),
                ),
                None => (&[][..], 0),
            }
        };
        if from == bytes.len() {
            conn.out.pop_front();
            continue;
        }
        // SAFETY: `bytes[from..]` is live; the fd is the stream's, open while it lives.
        let n = unsafe {
            libc::send(
                conn.stream.as_raw_fd(),
                bytes[from..].as_ptr().cast(),
                bytes.len() - from,
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            match std::io::Error::last_os_error().kind() {
                std::io::ErrorKind::Interrupted => continue,
                std::io::ErrorKind::WouldBlock => break,
                _ => return false,
            }
        }
        front.written += n as usize;
    }
    true
}

/// Queues one message (its length, `kind`, `parts`, then `body`'s storage) and writes what
/// the socket takes. `false` when it is too long to frame or the socket failed.
///
/// # Safety
/// `body`, if any, is a live typed array whose storage is `data`/`len` (pinned).
unsafe fn send_message(
    conn: &mut Conn,
    page: u64,
    kind: u8,
    parts: &[&[u8]],
    body: Option<(*mut ffi::JSCValue, *const u8, usize)>,
) -> bool {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>() + body.map_or(0, |b| b.2);
    let Ok(len) = u32::try_from(len) else {
        return false;
    };
    let mut head = Vec::with_capacity(5 + parts.iter().map(|p| p.len()).sum::<usize>());
    head.extend_from_slice(&len.to_le_bytes());
    head.push(kind);
    for part in parts {
        head.extend_from_slice(part);
    }
    if let Some((value, _, _)) = body {
        // SAFETY: as the caller promised; released when the message is written (or dropped).
        unsafe { gobject_sys::g_object_ref(value.cast()) };
    }
    conn.out.push_back(Queued {
        head,
        body,
        written: 0,
    });
    if !flush(conn) {
        return false;
    }
    if !conn.out.is_empty() && conn.out_watch.is_none() {
        // SAFETY: a plain watch on the stream's fd, removed before the fd closes (`release`).
        conn.out_watch = Some(unsafe {
            glib_sys::g_unix_fd_add(
                conn.stream.as_raw_fd(),
                glib_sys::G_IO_OUT,
                Some(writable),
                page as usize as ffi::gpointer,
            )
        });
    }
    true
}

/// The socket takes more: what is queued goes on.
unsafe extern "C" fn writable(
    _fd: std::ffi::c_int,
    _condition: glib_sys::GIOCondition,
    data: ffi::gpointer,
) -> glib_sys::gboolean {
    let page = data as usize as u64;
    let failed = PAGES.with(|p| {
        let mut pages = p.borrow_mut();
        let conn = pages.get_mut(&page)?;
        if !flush(conn) {
            conn.out_watch = None;
            return pages.remove(&page);
        }
        if conn.out.is_empty() {
            conn.out_watch = None;
        }
        None
    });
    if let Some(conn) = failed {
        // SAFETY: main thread, outside the borrow (the listener may call `wire`).
        unsafe { lost(conn) };
        return glib_sys::GFALSE;
    }
    let keep = PAGES.with(|p| p.borrow().get(&page).is_some_and(|c| c.out_watch.is_some()));
    if keep {
        glib_sys::GTRUE
    } else {
        glib_sys::GFALSE
    }
}

/// An idle callback: `listener(0, 0)` for a connection a failed write ended; releases the
/// reference it was given.
unsafe extern "C" fn tell_lost(data: ffi::gpointer) -> glib_sys::gboolean {
    // SAFETY: `data` is a listener reference `wire` took out of its connection for this.
    unsafe { call_lost(data.cast()) };
    glib_sys::GFALSE
}

/// Calls `listener(0, 0)` and releases the reference given.
///
/// # Safety
/// Main thread, `PAGES` not borrowed; `listener` a function reference of ours.
unsafe fn call_lost(listener: *mut ffi::JSCValue) {
    // SAFETY: as the caller promised; the arguments are new references released after.
    unsafe {
        let context = javascriptcore_rs_sys::jsc_value_get_context(listener);
        let mut args = [
            javascriptcore_rs_sys::jsc_value_new_number(context, 0.0),
            javascriptcore_rs_sys::jsc_value_new_number(context, 0.0),
        ];
        let result =
            javascriptcore_rs_sys::jsc_value_function_callv(listener, 2, args.as_mut_ptr());
        if !result.is_null() {
            gobject_sys::g_object_unref(result.cast());
        }
        javascriptcore_rs_sys::jsc_context_clear_exception(context);
        for value in args {
            gobject_sys::g_object_unref(value.cast());
        }
        gobject_sys::g_object_unref(listener.cast());
    }
}

/// A connection that failed: let go, and its listener told (`listener(0, 0)`).
///
/// # Safety
/// Main thread, with `PAGES` not borrowed.
unsafe fn lost(mut conn: Conn) {
    let listener = conn.listener.take();
    release(conn);
    if let Some(listener) = listener {
        // SAFETY: as the caller promised; the reference `wire(4)` took, now ours.
        unsafe { call_lost(listener) };
    }
}

/// A string argument's UTF-8 bytes; `None` for anything but a string (nothing is converted:
/// a conversion could run script).
///
/// # Safety
/// `value` is a live JSCValue.
unsafe fn string_bytes(value: *mut ffi::JSCValue) -> Option<Vec<u8>> {
    // SAFETY: as the caller promised; the GBytes is ours to release.
    unsafe {
        if javascriptcore_rs_sys::jsc_value_is_string(value) == 0 {
            return None;
        }
        let bytes = javascriptcore_rs_sys::jsc_value_to_string_as_bytes(value);
        if bytes.is_null() {
            return None;
        }
        let mut len = 0usize;
        let data = glib_sys::g_bytes_get_data(bytes, &mut len);
        let out = if data.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(data.cast::<u8>(), len).to_vec()
        };
        glib_sys::g_bytes_unref(bytes);
        Some(out)
    }
}

/// `__inprocBusWire(kind, …)`: see the crate's docs. Throws nothing: a failure is `null`
/// (or `false`).
unsafe extern "C" fn wire(args: *mut ffi::GPtrArray, data: ffi::gpointer) -> *mut ffi::JSCValue {
    let page = data as usize as u64;
    // SAFETY: JavaScriptCore calls this on the main thread with the call's arguments; every
    // value returned is a new reference, as the generic marshaller takes. No script runs
    // while `PAGES` is borrowed (arguments are only read, never converted).
    unsafe {
        let context = javascriptcore_rs_sys::jsc_context_get_current();
        let arg = |i: u32| -> Option<*mut ffi::JSCValue> {
            (i < (*args).len).then(|| (*(*args).pdata.add(i as usize)).cast())
        };
        let null = || javascriptcore_rs_sys::jsc_value_new_null(context);
        let boolean = |b: bool| javascriptcore_rs_sys::jsc_value_new_boolean(context, b.into());
        let number = |n: u32| javascriptcore_rs_sys::jsc_value_new_number(context, n.into());
        let Some(kind) = arg(0).filter(|v| javascriptcore_rs_sys::jsc_value_is_number(*v) != 0)
        else {
            return null();
        };
        let kind = javascriptcore_rs_sys::jsc_value_to_int32(kind);
        PAGES.with(|p| {
            let mut pages = p.borrow_mut();
            // A write that failed ends the connection (the relay, told by the result,
            // goes back to script messages).
            let mut failed = false;
            let result = (|| {
                let Some(conn) = pages.get_mut(&page) else {
                    return if kind == 0 { boolean(false) } else { null() };
                };
                match kind {
                    0 => boolean(true),
                    1 => match arg(1).and_then(|v| string_bytes(v)) {
                        Some(text) => {
                            let sent = send_message(conn, page, FRAMES, &[&text], None);
                            failed = !sent;
                            boolean(sent)
                        }
                        None => null(),
                    },
                    2 => {
                        let Some(text) = arg(1).and_then(|v| string_bytes(v)) else {
                            return null();
                        };
                        conn.last_id = conn.last_id.wrapping_add(1).max(1);
                        let id = conn.last_id;
                        if send_message(conn, page, ASK, &[&id.to_le_bytes(), &text], None) {
                            number(id)
                        } else {
                            failed = true;
                            boolean(false)
                        }
                    }
                    3 => {
                        let (Some(header), Some(body)) =
                            (arg(1).and_then(|v| string_bytes(v)), arg(2))
                        else {
                            return null();
                        };
                        if javascriptcore_rs_sys::jsc_value_is_typed_array(body) == 0 {
                            return null();
                        }
                        // In bytes (`get_data` counts elements).
                        let len = javascriptcore_rs_sys::jsc_value_typed_array_get_size(body);
                        let data = javascriptcore_rs_sys::jsc_value_typed_array_get_data(
                            body,
                            std::ptr::null_mut(),
                        );
                        if len > 0 && data.is_null() {
                            return null();
                        }
                        let Ok(header_len) = u32::try_from(header.len()) else {
                            return null();
                        };
                        conn.last_id = conn.last_id.wrapping_add(1).max(1);
                        let id = conn.last_id;
                        if send_message(
                            conn,
                            page,
                            CARRY,
                            &[&id.to_le_bytes(), &header_len.to_le_bytes(), &header],
                            (len > 0).then_some((body, data.cast::<u8>().cast_const(), len)),
                        ) {
                            number(id)
                        } else {
                            failed = true;
                            boolean(false)
                        }
                    }
                    4 => {
                        let Some(listener) = arg(1)
                            .filter(|v| javascriptcore_rs_sys::jsc_value_is_function(*v) != 0)
                        else {
                            return null();
                        };
                        gobject_sys::g_object_ref(listener.cast());
                        if let Some(old) = conn.listener.replace(listener) {
                            gobject_sys::g_object_unref(old.cast());
                        }
                        if conn.in_watch.is_none() {
                            conn.in_watch = Some(glib_sys::g_unix_fd_add(
                                conn.stream.as_raw_fd(),
                                glib_sys::G_IO_IN | glib_sys::G_IO_HUP | glib_sys::G_IO_ERR,
                                Some(readable),
                                page as usize as ffi::gpointer,
                            ));
                        }
                        boolean(true)
                    }
                    _ => null(),
                }
            })();
            if failed && let Some(mut conn) = pages.remove(&page) {
                // The listener is told, from the main loop (not inside this call).
                if let Some(listener) = conn.listener.take() {
                    glib_sys::g_idle_add(Some(tell_lost), listener.cast());
                }
                release(conn);
            }
            result
        })
    }
}

/// The frames of a [`FRAMES_BACK`] message (a count, then each frame's length and bytes)
/// as an array of `Uint8Array`s that JavaScriptCore allocates; `None` if the message is not
/// one.
///
/// # Safety
/// `context` is the listener's live context, on the main thread.
unsafe fn frames_array(
    context: *mut ffi::JSCContext,
    mut rest: &[u8],
) -> Option<*mut ffi::JSCValue> {
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let mut frames: Vec<&[u8]> = Vec::new();
    for _ in 0..count {
        let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        frames.push(take(len)?);
    }
    // SAFETY: each typed array's storage is `frame.len()` bytes that JavaScriptCore owns;
    // the array takes its own references to its elements, ours are released here.
    unsafe {
        let elements = glib_sys::g_ptr_array_new();
        for frame in frames {
            let array = javascriptcore_rs_sys::jsc_value_new_typed_array(
                context,
                javascriptcore_rs_sys::JSC_TYPED_ARRAY_UINT8,
                frame.len(),
            );
            if !frame.is_empty() {
                let mut len = 0usize;
                let data = javascriptcore_rs_sys::jsc_value_typed_array_get_data(array, &mut len);
                if data.is_null() || len != frame.len() {
                    gobject_sys::g_object_unref(array.cast());
                    for i in 0..(*elements).len {
                        gobject_sys::g_object_unref((*(*elements).pdata.add(i as usize)).cast());
                    }
                    glib_sys::g_ptr_array_unref(elements);
                    return None;
                }
                std::ptr::copy_nonoverlapping(frame.as_ptr(), data.cast::<u8>(), len);
            }
            glib_sys::g_ptr_array_add(elements, array.cast());
        }
        let value = javascriptcore_rs_sys::jsc_value_new_array_from_garray(context, elements);
        for i in 0..(*elements).len {
            gobject_sys::g_object_unref((*(*elements).pdata.add(i as usize)).cast());
        }
        glib_sys::g_ptr_array_unref(elements);
        Some(value)
    }
}

/// Reads one message (a length, then that many bytes); `None` when the socket closed or
/// the message is not one.
fn read_message(stream: &mut UnixStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let len = u32::from_le_bytes(len) as usize;
    if !(5..=MAX_IN).contains(&len) {
        return None;
    }
    let mut message = vec![0u8; len];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

/// The socket is readable on the web process's main loop: one message from the host,
/// handed to the listener (one a dispatch, so the page's other tasks run between them).
unsafe extern "C" fn readable(
    _fd: std::ffi::c_int,
    _condition: glib_sys::GIOCondition,
    data: ffi::gpointer,
) -> glib_sys::gboolean {
    let page = data as usize as u64;
    // Taken under the borrow, called after it: the listener may call `wire` again.
    let taken = PAGES.with(|p| {
        let mut pages = p.borrow_mut();
        let conn = pages.get_mut(&page)?;
        let listener = conn.listener?;
        // SAFETY: a live reference of ours; the call below holds its own.
        unsafe { gobject_sys::g_object_ref(listener.cast()) };
        let message = read_message(&mut conn.stream);
        if message.is_none() {
            // Closed, or not our peer's: the page's connection ends here (this watch goes
            // with it, by returning FALSE).
            if let Some(mut conn) = pages.remove(&page) {
                conn.in_watch = None;
                release(conn);
            }
        }
        Some((listener, message))
    });
    let Some((listener, message)) = taken else {
        return glib_sys::GFALSE;
    };
    // SAFETY: on the main thread; the listener has a reference of ours (released below);
    // every value made here is a new reference released after the call.
    unsafe {
        // (transfer none)
        let context = javascriptcore_rs_sys::jsc_value_get_context(listener);
        let mut args: Vec<*mut ffi::JSCValue> = Vec::with_capacity(3);
        let keep = match &message {
            Some(m) if m.len() >= 5 => {
                let id = u32::from_le_bytes(m[1..5].try_into().expect("4 bytes"));
                args.push(javascriptcore_rs_sys::jsc_value_new_number(
                    context,
                    m[0].into(),
                ));
                args.push(javascriptcore_rs_sys::jsc_value_new_number(
                    context,
                    id.into(),
                ));
                let rest = &m[5..];
                if m[0] == FRAMES_BACK {
                    match frames_array(context, rest) {
                        Some(array) => {
                            args.push(array);
                            true
                        }
                        None => {
                            // Not one (only the host writes here): the connection ends.
                            for value in args.drain(..) {
                                gobject_sys::g_object_unref(value.cast());
                            }
                            args.push(javascriptcore_rs_sys::jsc_value_new_number(context, 0.0));
                            args.push(javascriptcore_rs_sys::jsc_value_new_number(context, 0.0));
                            if let Some(conn) = PAGES.with(|p| p.borrow_mut().remove(&page)) {
                                release(conn);
                            }
                            false
                        }
                    }
                } else {
                    let bytes = glib_sys::g_bytes_new(rest.as_ptr().cast::<c_void>(), rest.len());
                    args.push(javascriptcore_rs_sys::jsc_value_new_string_from_bytes(
                        context, bytes,
                    ));
                    glib_sys::g_bytes_unref(bytes);
                    true
                }
            }
            _ => {
                args.push(javascriptcore_rs_sys::jsc_value_new_number(context, 0.0));
                args.push(javascriptcore_rs_sys::jsc_value_new_number(context, 0.0));
                false
            }
        };
        let result = javascriptcore_rs_sys::jsc_value_function_callv(
            listener,
            args.len() as u32,
            args.as_mut_ptr(),
        );
        if !result.is_null() {
            gobject_sys::g_object_unref(result.cast());
        }
        javascriptcore_rs_sys::jsc_context_clear_exception(context);
        for value in args {
            gobject_sys::g_object_unref(value.cast());
        }
        gobject_sys::g_object_unref(listener.cast());
        if keep {
            glib_sys::GTRUE
        } else {
            glib_sys::GFALSE
        }
    }
}
