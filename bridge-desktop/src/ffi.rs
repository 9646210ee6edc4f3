//! The only unsafe code of this crate: handing a pipe's read end to GIO, and holding a
//! `WebKitScriptMessageReply` (webkit2gtk-rs does not bind the signal that carries it).

use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use glib::translate::{FromGlib, ToGlibPtr};
use webkit2gtk::ffi::{
    WebKitScriptMessageReply, webkit_script_message_reply_get_type,
    webkit_script_message_reply_return_error_message, webkit_script_message_reply_unref,
};

/// Wraps the read end of a pipe in a `GUnixInputStream` that owns it.
pub(crate) fn input_stream_from_fd(fd: OwnedFd) -> gio::UnixInputStream {
    // SAFETY: `fd` is an open file descriptor that we own (an `OwnedFd` moved in);
    // `take_fd` takes that ownership and closes it when the stream is finalised, so it
    // is closed exactly once and no other owner remains.
    unsafe { gio::UnixInputStream::take_fd(fd) }
}

/// The answer to one `postMessage` of a handler registered with reply: the page's promise
/// is rejected with an `Error` whose message is the text given to [`Reply::send_text`], or
/// resolves with `undefined` when a `Reply` is dropped unsent (WebKit's documented
/// automatic reply).
///
/// Why the error path carries our data: `webkit_script_message_reply_return_value` takes a
/// `JSCValue`, and WebKit 2.50 serialises it in its own shared JavaScriptCore context,
/// which it releases after a while idle. A value from a context of our own made it abort
/// in libpas ("free bit set", 1 conformance run in 4), and a value made in the context of
/// a message that had waited past that release crashed in `AtomStringImpl::add` (seen in
/// the webview benchmark). `return_error_message` takes a C string and involves no
/// JavaScriptCore in this process at all.
///
/// Main thread only: it is neither `Send` nor `Sync` (it holds a raw pointer).
pub(crate) struct Reply(NonNull<WebKitScriptMessageReply>);

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reply")
    }
}

impl Reply {
    /// Takes a reference on the reply held by a `script-message-with-reply-received`
    /// argument; `None` when the value holds something else.
    pub(crate) fn from_value(value: &glib::Value) -> Option<Reply> {
        // SAFETY: a plain type query with no preconditions (WebKit >= 2.40, which the
        // `v2_40` feature already requires at link time).
        let reply_type = unsafe { glib::Type::from_glib(webkit_script_message_reply_get_type()) };
        if value.type_() != reply_type {
            return None;
        }
        // SAFETY: `value` holds a boxed WebKitScriptMessageReply (checked just above) and
        // stays alive for the call; `g_value_dup_boxed` returns a new reference (the
        // boxed type's copy function is `webkit_script_message_reply_ref`) that this
        // `Reply` owns and releases exactly once in `Drop`.
        let ptr = unsafe { glib::gobject_ffi::g_value_dup_boxed(value.to_glib_none().0) };
        NonNull::new(ptr.cast::<WebKitScriptMessageReply>()).map(Reply)
    }

    /// Settles the page's promise by rejecting it with an `Error` whose message is `text`
    /// (sent to the web process at once). A `text` holding a NUL cannot be sent: the
    /// reply is then dropped, which resolves the promise with `undefined`.
    pub(crate) fn send_text(self, text: String) {
        let Ok(text) = std::ffi::CString::new(text) else {
            return;
        };
        // SAFETY: `self.0` is a live reference we own (see `from_value`); `text` is a
        // NUL-terminated string borrowed for the call, which WebKit copies before
        // returning. Replying twice is prevented by taking `self` by value.
        unsafe { webkit_script_message_reply_return_error_message(self.0.as_ptr(), text.as_ptr()) }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // SAFETY: releases the one reference `from_value` took; `self.0` is not used again.
        unsafe { webkit_script_message_reply_unref(self.0.as_ptr()) }
    }
}
