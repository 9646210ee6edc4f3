//! Every foreign function the web process extension calls that its `-sys` crates do not
//! declare, and the glue around them. Shared, by path, with `webext-probe` (the carrier's
//! first measurement).

use std::ffi::{CStr, c_char, c_int, c_void};

pub(crate) use gio_sys::GAsyncResult;
pub(crate) use glib_sys::{GError, GPtrArray, gpointer};
pub(crate) use gobject_sys::GObject;
pub(crate) use javascriptcore_rs_sys::{JSCContext, JSCValue};

/// `WebKitWebExtension`, `WebKitWebPage`, `WebKitFrame`, `WebKitScriptWorld` and
/// `WebKitUserMessage`: GObjects this crate only passes around.
pub(crate) type Object = c_void;

#[link(name = "webkit2gtk-4.1")]
unsafe extern "C" {
    pub(crate) fn webkit_script_world_new_with_name(name: *const c_char) -> *mut Object;
    /// (Used by `webext-probe`, which shares this file.)
    #[allow(dead_code)]
    pub(crate) fn webkit_script_world_get_default() -> *mut Object;
    pub(crate) fn webkit_frame_is_main_frame(frame: *mut Object) -> c_int;
    pub(crate) fn webkit_frame_get_js_context_for_script_world(
        frame: *mut Object,
        world: *mut Object,
    ) -> *mut JSCContext;
    pub(crate) fn webkit_web_page_get_id(page: *mut Object) -> u64;
    pub(crate) fn webkit_user_message_new(
        name: *const c_char,
        parameters: *mut c_void,
    ) -> *mut Object;
    pub(crate) fn webkit_user_message_get_fd_list(message: *mut Object) -> *mut c_void;
    pub(crate) fn webkit_web_page_send_message_to_view(
        page: *mut Object,
        message: *mut Object,
        cancellable: *mut c_void,
        callback: gio_sys::GAsyncReadyCallback,
        user_data: gpointer,
    );
    pub(crate) fn webkit_web_page_send_message_to_view_finish(
        page: *mut Object,
        result: *mut GAsyncResult,
        error: *mut *mut GError,
    ) -> *mut Object;
}

/// Connects `handler` (a C function of the signal's signature) to `signal` of `object`.
///
/// # Safety
/// `object` is a live GObject with that signal, and `handler`'s signature is the
/// signal's.
pub(crate) unsafe fn connect(object: *mut Object, signal: &CStr, handler: *const ()) {
    // SAFETY: as the caller promised; GCallback is the untyped function pointer GObject
    // stores and calls back with the signal's own arguments.
    unsafe {
        let callback: unsafe extern "C" fn() = std::mem::transmute(handler);
        gobject_sys::g_signal_connect_data(
            object.cast(),
            signal.as_ptr(),
            Some(callback),
            std::ptr::null_mut(),
            None,
            0,
        );
    }
}
