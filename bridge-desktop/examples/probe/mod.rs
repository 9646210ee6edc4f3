//! What the carrier probes (`carriers`, `webext_carrier`) share: a WebView in a window
//! under Xvfb when there is no display, a `probe:` scheme registered secure and
//! CORS-enabled, the page's log printed line by line, and the main loop run until the page
//! says it is done.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use gtk::prelude::*;
use javascriptcore::ValueExt;
use webkit2gtk::{SecurityManagerExt, UserContentManagerExt, WebContextExt, WebViewExt};
use wry::{WebViewBuilderExtUnix, WebViewExtUnix};

/// A WebView in a window of its own; `before_load` runs on its context first (the web
/// process starts with the first load, so what must precede it goes there).
pub(crate) struct Probe {
    pub(crate) window: gtk::Window,
    // Kept: dropping wry's WebView tears the view down.
    _webview: wry::WebView,
    pub(crate) view: webkit2gtk::WebView,
    pub(crate) context: webkit2gtk::WebContext,
}

impl Probe {
    pub(crate) fn new(before_load: impl FnOnce(&webkit2gtk::WebContext)) -> Probe {
        testkit::display::ensure().expect("a display");
        gtk::init().expect("GTK");
        let window = gtk::Window::new(gtk::WindowType::Toplevel);
        let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
        window.add(&vbox);
        let webview = wry::WebViewBuilder::new()
            .build_gtk(&vbox)
            .expect("WebView");
        let view = webview.webview();
        let context = view.context().expect("context");
        before_load(&context);
        let security = context.security_manager().expect("security manager");
        security.register_uri_scheme_as_secure("probe");
        security.register_uri_scheme_as_cors_enabled("probe");
        Probe {
            window,
            _webview: webview,
            view,
            context,
        }
    }

    /// Prints each message the page posts to the handler `name` (registered in `world`, or
    /// the main world) and loads `probe://localhost/`; returns once a message says
    /// `"done":true`, or exits with 1 after `limit_secs`.
    pub(crate) fn run(&self, name: &str, world: Option<&str>, limit_secs: u64) {
        let manager = self.view.user_content_manager().expect("content manager");
        match world {
            Some(world) => assert!(manager.register_script_message_handler_in_world(name, world)),
            None => assert!(manager.register_script_message_handler(name)),
        }
        let done = Rc::new(RefCell::new(false));
        let flag = done.clone();
        manager.connect_script_message_received(Some(name), move |_, result| {
            if let Some(value) = result.js_value() {
                let text = value.to_str().to_string();
                println!("{text}");
                if text.contains("\"done\":true") {
                    *flag.borrow_mut() = true;
                }
            }
        });
        self.window.show_all();
        self.view.load_uri("probe://localhost/");
        let started = Instant::now();
        while !*done.borrow() && started.elapsed().as_secs() < limit_secs {
            glib::MainContext::default().iteration(true);
        }
        if !*done.borrow() {
            eprintln!("the probe did not finish within {limit_secs} s");
            std::process::exit(1);
        }
    }
}

/// Answers a `probe:` request with `body`.
pub(crate) fn answer(
    request: &webkit2gtk::URISchemeRequest,
    status: u32,
    kind: &str,
    body: glib::Bytes,
) {
    use webkit2gtk::{URISchemeRequestExt, URISchemeResponseExt};
    let len = body.len() as i64;
    let stream = gio::MemoryInputStream::from_bytes(&body);
    let response = webkit2gtk::URISchemeResponse::new(&stream, len);
    response.set_status(status, None);
    response.set_content_type(kind);
    request.finish_with_response(&response);
}

/// Rejects the page's promise with `text`, as bridge-desktop answers (see its `ffi::Reply`).
pub(crate) fn reply_text(reply: &glib::Value, text: &str) {
    let ptr = boxed(reply);
    let text = std::ffi::CString::new(text).expect("no NUL");
    // SAFETY: `ptr` is the signal's live reply, answered once here.
    unsafe { webkit2gtk::ffi::webkit_script_message_reply_return_error_message(ptr, text.as_ptr()) }
}

/// The `WebKitScriptMessageReply` a `script-message-with-reply-received` signal carries.
pub(crate) fn boxed(reply: &glib::Value) -> *mut webkit2gtk::ffi::WebKitScriptMessageReply {
    // SAFETY: the signal's third argument holds the boxed reply.
    unsafe {
        glib::gobject_ffi::g_value_get_boxed(glib::translate::ToGlibPtr::to_glib_none(reply).0)
            .cast()
    }
}
