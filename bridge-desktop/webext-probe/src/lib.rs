//! A WebKitGTK web process extension that measures one more page-to-host carrier for
//! issue 16: a **synchronous** JavaScript function, `__probe(kind, arg)`, defined by this
//! extension in the web process, whose bytes cross a `socketpair` the host hands over in
//! a `WebKitUserMessage` (so nothing listens anywhere: the web process gets one end of a
//! pair, and no other process can connect to it).
//!
//! A probe, not a transport: bridge-desktop's example `webext_carrier` loads it, serves the
//! other end of the pair from a thread, and prints what the page measured side by side with
//! WebKit's own scheme fetch. docs/ARCHITECTURE.md ("Binary carriers") records the results.
//!
//! What `__probe` does (calls run on the web process's main thread and block it until the
//! host answers, which a probe can afford and a transport could not):
//! - `__probe(9)`: whether the host's end has arrived (the handshake is asynchronous);
//! - `__probe(0)`: a tiny request; the answer is a 12-byte `Uint8Array`;
//! - `__probe(1, u8)`: writes the `Uint8Array`'s bytes from the page's own buffer (no copy
//!   in the page) and returns the number of bytes the host counted;
//! - `__probe(5)` and `__probe(6, f)`: the tiny request without blocking: `5` sends it and
//!   returns; the answer, read when the web process's main loop finds the socket readable,
//!   is handed to the function `f` given once with `6`;
//! - `__probe(2, n)`: reads `n` bytes from the host straight into a new `Uint8Array`'s
//!   storage (no copy in the page).
//!
//! The function is defined in the main world and in the script world named `probe-world`,
//! to find out whether a world made by name here is the one the UI process's user scripts
//! of that name run in.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

/// The host's end of the pair, once the handshake's reply has brought it.
static HOST: Mutex<Option<UnixStream>> = Mutex::new(None);

/// The name of the isolated world the probe also defines `__probe` in.
const WORLD: &std::ffi::CStr = c"probe-world";

/// The transport's declarations (`bridge-desktop-webext`), shared by path.
#[allow(dead_code)]
#[path = "../../webext/src/ffi.rs"]
mod ffi;

/// The entry point WebKit calls in every web process it starts with this extension's
/// directory set.
///
/// # Safety
/// Called by WebKit once per web process with its `WebKitWebExtension`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn webkit_web_extension_initialize(extension: *mut ffi::Object) {
    // SAFETY: the signals and their handlers' signatures are WebKit's (WebKitWebExtension
    // `page-created`, WebKitScriptWorld `window-object-cleared`); the worlds live for the
    // process (the named one is never released).
    unsafe {
        ffi::connect(extension, c"page-created", page_created as *const ());
        let default = ffi::webkit_script_world_get_default();
        ffi::connect(
            default,
            c"window-object-cleared",
            window_object_cleared as *const (),
        );
        let named = ffi::webkit_script_world_new_with_name(WORLD.as_ptr());
        ffi::connect(
            named,
            c"window-object-cleared",
            window_object_cleared as *const (),
        );
    }
}

/// `page-created`: asks the view for its end of a socketpair.
unsafe extern "C" fn page_created(
    _extension: *mut ffi::Object,
    page: *mut ffi::Object,
    _data: ffi::gpointer,
) {
    // SAFETY: `page` is the live page the signal names; the message is floating and sunk
    // by the call.
    unsafe {
        let message = ffi::webkit_user_message_new(c"probe-fd".as_ptr(), std::ptr::null_mut());
        ffi::webkit_web_page_send_message_to_view(
            page,
            message,
            std::ptr::null_mut(),
            Some(handshake_replied),
            std::ptr::null_mut(),
        );
    }
}

/// The view's reply: one file descriptor, our end of the pair.
unsafe extern "C" fn handshake_replied(
    source: *mut ffi::GObject,
    result: *mut ffi::GAsyncResult,
    _data: ffi::gpointer,
) {
    // SAFETY: `source` is the page the message went from and `result` its answer; the fd
    // `g_unix_fd_list_get` returns is a duplicate that we own.
    unsafe {
        let mut error: *mut ffi::GError = std::ptr::null_mut();
        let reply =
            ffi::webkit_web_page_send_message_to_view_finish(source.cast(), result, &mut error);
        if reply.is_null() {
            eprintln!("webext-probe: the view did not answer the handshake");
            return;
        }
        let list = ffi::webkit_user_message_get_fd_list(reply);
        if list.is_null() {
            eprintln!("webext-probe: the handshake's reply carried no fd");
            return;
        }
        let fd = gio_sys::g_unix_fd_list_get(list.cast(), 0, &mut error);
        gobject_sys::g_object_unref(reply.cast());
        if fd < 0 {
            eprintln!("webext-probe: no fd in the reply's list");
            return;
        }
        *HOST.lock().unwrap_or_else(|e| e.into_inner()) = Some(UnixStream::from_raw_fd(fd));
    }
}

/// `window-object-cleared`: defines `__probe` in the main frame of either world.
unsafe extern "C" fn window_object_cleared(
    world: *mut ffi::Object,
    _page: *mut ffi::Object,
    frame: *mut ffi::Object,
    _data: ffi::gpointer,
) {
    // SAFETY: `world` and `frame` are the signal's live objects; the context and the
    // function value are ours to release after handing the function to the context.
    unsafe {
        if ffi::webkit_frame_is_main_frame(frame) == 0 {
            return;
        }
        let context = ffi::webkit_frame_get_js_context_for_script_world(frame, world);
        if context.is_null() {
            return;
        }
        let callback: unsafe extern "C" fn() = std::mem::transmute(probe as *const ());
        let function = javascriptcore_rs_sys::jsc_value_new_function_variadic(
            context,
            c"__probe".as_ptr(),
            Some(callback),
            std::ptr::null_mut(),
            None,
            javascriptcore_rs_sys::jsc_value_get_type(),
        );
        javascriptcore_rs_sys::jsc_context_set_value(context, c"__probe".as_ptr(), function);
        gobject_sys::g_object_unref(function.cast());
        gobject_sys::g_object_unref(context.cast());
    }
}

/// `__probe(kind, arg)`: see the crate's docs. Throws nothing: a failure is `null`.
unsafe extern "C" fn probe(args: *mut ffi::GPtrArray, _data: ffi::gpointer) -> *mut ffi::JSCValue {
    // SAFETY: JavaScriptCore calls this on the thread of the current context with the call's
    // arguments; every value it returns is a new reference, as the generic marshaller takes.
    unsafe {
        let context = javascriptcore_rs_sys::jsc_context_get_current();
        let arg = |i: u32| -> Option<*mut ffi::JSCValue> {
            (i < (*args).len).then(|| (*(*args).pdata.add(i as usize)).cast())
        };
        let null = || javascriptcore_rs_sys::jsc_value_new_null(context);
        let Some(kind) = arg(0).map(|v| javascriptcore_rs_sys::jsc_value_to_int32(v)) else {
            return null();
        };
        // Converted before the lock: a conversion runs page script (`valueOf`), which could
        // call `__probe` again on this thread, and a second lock would deadlock or abort.
        // (Only the count of kind 2: converting kind 1's array joins all its elements.)
        let count = if kind == 2 {
            arg(1).map(|v| javascriptcore_rs_sys::jsc_value_to_int32(v))
        } else {
            None
        };
        let mut host = HOST.lock().unwrap_or_else(|e| e.into_inner());
        if kind == 9 {
            return javascriptcore_rs_sys::jsc_value_new_boolean(context, host.is_some().into());
        }
        let Some(stream) = host.as_mut() else {
            return null();
        };
        match kind {
            5 => {
                if stream.write_all(&head(0, 0)).is_err() {
                    return null();
                }
                javascriptcore_rs_sys::jsc_value_new_undefined(context)
            }
            6 => {
                let Some(function) = arg(1) else {
                    return null();
                };
                gobject_sys::g_object_ref(function.cast());
                let first = LISTENER.with(|l| l.replace(Some(function)));
                match first {
                    Some(old) => gobject_sys::g_object_unref(old.cast()),
                    None => {
                        use std::os::fd::AsRawFd;
                        glib_sys::g_unix_fd_add(
                            stream.as_raw_fd(),
                            glib_sys::G_IO_IN,
                            Some(readable),
                            std::ptr::null_mut(),
                        );
                    }
                }
                javascriptcore_rs_sys::jsc_value_new_undefined(context)
            }
            0 => {
                if stream.write_all(&head(0, 0)).is_err() {
                    return null();
                }
                read_into_new_array(context, stream, 12)
            }
            1 => {
                let Some(view) = arg(1) else {
                    return null();
                };
                if javascriptcore_rs_sys::jsc_value_is_typed_array(view) == 0 {
                    return null();
                }
                // In bytes (`get_data` counts elements).
                let len = javascriptcore_rs_sys::jsc_value_typed_array_get_size(view);
                let data = javascriptcore_rs_sys::jsc_value_typed_array_get_data(
                    view,
                    std::ptr::null_mut(),
                );
                if data.is_null() {
                    return null();
                }
                let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
                match call(stream, 1, bytes, 8) {
                    Some(answer) => {
                        let count = u64::from_le_bytes(answer[..8].try_into().expect("8 bytes"));
                        javascriptcore_rs_sys::jsc_value_new_number(context, count as f64)
                    }
                    None => null(),
                }
            }
            2 => {
                let Some(n) = count else {
                    return null();
                };
                let n = n.max(0) as usize;
                if stream.write_all(&head(2, n as u32)).is_err() {
                    return null();
                }
                read_into_new_array(context, stream, n)
            }
            _ => null(),
        }
    }
}

thread_local! {
    /// The page's function that `__probe(5)`'s answers are handed to (`__probe(6, f)`).
    static LISTENER: std::cell::Cell<Option<*mut ffi::JSCValue>> = const { std::cell::Cell::new(None) };
}

/// The host's end is readable on the web process's main loop: an answer to `__probe(5)`,
/// handed to the listener as a `Uint8Array` (the non-blocking way a transport would take).
unsafe extern "C" fn readable(
    _fd: std::ffi::c_int,
    _condition: glib_sys::GIOCondition,
    _data: ffi::gpointer,
) -> glib_sys::gboolean {
    let Some(listener) = LISTENER.with(|l| l.get()) else {
        return glib_sys::GFALSE;
    };
    // SAFETY: on the main thread, where the listener was stored with a reference of its
    // own; the array and the call's result are new references released here.
    unsafe {
        let context = javascriptcore_rs_sys::jsc_value_get_context(listener);
        let mut host = HOST.lock().unwrap_or_else(|e| e.into_inner());
        let Some(stream) = host.as_mut() else {
            return glib_sys::GFALSE;
        };
        let mut array = read_into_new_array(context, stream, 12);
        drop(host);
        if javascriptcore_rs_sys::jsc_value_is_null(array) != 0 {
            // The host's end closed or the answer was not one: stop watching (a closed
            // socket stays readable, and this would spin).
            gobject_sys::g_object_unref(array.cast());
            return glib_sys::GFALSE;
        }
        let result = javascriptcore_rs_sys::jsc_value_function_callv(listener, 1, &mut array);
        gobject_sys::g_object_unref(array.cast());
        if !result.is_null() {
            gobject_sys::g_object_unref(result.cast());
        }
    }
    glib_sys::GTRUE
}

/// A request head: the kind and a count (the body's length, or the bytes wanted).
fn head(kind: u8, n: u32) -> [u8; 8] {
    let mut head = [kind, 0, 0, 0, 0, 0, 0, 0];
    head[4..].copy_from_slice(&n.to_le_bytes());
    head
}

/// Sends a request of `kind` with `body` and reads an answer of `expect` bytes.
fn call(stream: &mut UnixStream, kind: u8, body: &[u8], expect: usize) -> Option<Vec<u8>> {
    stream.write_all(&head(kind, body.len() as u32)).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = vec![0u8; expect];
    read_answer(stream, &mut answer)?;
    Some(answer)
}

/// Reads an answer (a 4-byte length, then that many bytes) into `target`, whose length
/// must be the answer's.
fn read_answer(stream: &mut UnixStream, target: &mut [u8]) -> Option<()> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    if u32::from_le_bytes(len) as usize != target.len() {
        return None;
    }
    stream.read_exact(target).ok()
}

/// A new `Uint8Array` of `n` bytes that the host's answer is read straight into.
///
/// (An `ArrayBuffer` over memory of our own, `jsc_value_new_array_buffer`, would save
/// nothing more and aborts the web process: "Disabling Primitive gigacage is forbidden".)
///
/// # Safety
/// `context` is the current JavaScriptCore context.
unsafe fn read_into_new_array(
    context: *mut ffi::JSCContext,
    stream: &mut UnixStream,
    n: usize,
) -> *mut ffi::JSCValue {
    // SAFETY: the typed array's storage is `n` bytes that JavaScriptCore owns and keeps
    // alive while `array` is referenced; nothing else runs on this thread meanwhile.
    unsafe {
        let array = javascriptcore_rs_sys::jsc_value_new_typed_array(
            context,
            javascriptcore_rs_sys::JSC_TYPED_ARRAY_UINT8,
            n,
        );
        let mut len = 0usize;
        let data = javascriptcore_rs_sys::jsc_value_typed_array_get_data(array, &mut len);
        let ok = !data.is_null()
            && len == n
            && read_answer(stream, std::slice::from_raw_parts_mut(data.cast::<u8>(), n)).is_some();
        if ok {
            array
        } else {
            gobject_sys::g_object_unref(array.cast());
            javascriptcore_rs_sys::jsc_value_new_null(context)
        }
    }
}
