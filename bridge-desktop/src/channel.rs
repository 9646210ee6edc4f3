//! The message channel for the shim's frames, reachable only from our own main frame.
//!
//! wry's `with_ipc_handler` is reachable from every frame and reports the WebView's URL
//! rather than the sender's (measured; the shape of Tauri's CVE-2024-35222), so this
//! module does not use it. Instead:
//!
//! - a script message handler is registered **in an isolated world** ([`WORLD`]): page
//!   scripts, including every iframe's, cannot see it;
//! - a relay script runs in that world, in the **top frame only**, at document start; it
//!   checks `location` and installs nothing on a foreign page. It forwards the page's
//!   `inproc-bus-out` DOM events (base64 frames) to the handler, tagged with a random id
//!   for this document, and dispatches `inproc-bus-in` events for frames from the bus;
//! - each document gets its own [`Session`], opened when its relay says hello, so a frame
//!   from an old document never reaches a new one;
//! - frames for the page are batched and delivered with one `evaluate_javascript` in the
//!   isolated world per main-loop turn.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bus_core::port::{Session, SessionConfig};
use bus_core::{BusHandle, Caller, FrameKind, Transport};
use bytes::Bytes;
use javascriptcore::ValueExt;
use webkit2gtk::{UserContentInjectedFrames, UserScript, UserScriptInjectionTime};
use webkit2gtk::{UserContentManagerExt, WebViewExt};

/// The isolated script world of the relay and the message handler.
pub const WORLD: &str = "inproc-bus";

/// The message handler's name in [`WORLD`].
const HANDLER: &str = "inprocBus";

/// Event names shared with bridge-js's `domEventTransport`.
pub const OUT_EVENT: &str = "inproc-bus-out";
/// See [`OUT_EVENT`].
pub const IN_EVENT: &str = "inproc-bus-in";

const RELAY: &str = r#"(() => {
  'use strict';
  if (location.protocol + '//' + location.host !== __ORIGIN__) return;
  const handlers = globalThis.webkit && globalThis.webkit.messageHandlers;
  const handler = handlers && handlers[__HANDLER__];
  if (!handler) return;
  const doc = Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join('-');
  handler.postMessage(doc + ' open');
  document.addEventListener(__OUT__, (event) => {
    if (typeof event.detail === 'string') handler.postMessage(doc + ' f ' + event.detail);
  });
  Object.defineProperty(globalThis, '__inprocBusRelay', {
    value: Object.freeze({
      deliver(target, frames) {
        if (target !== doc) return;
        for (const frame of frames) document.dispatchEvent(new CustomEvent(__IN__, { detail: frame }));
      },
    }),
  });
})();"#;

thread_local! {
    static HOSTS: RefCell<HashMap<u64, HostChannel>> = RefCell::new(HashMap::new());
}

struct HostChannel {
    webview: webkit2gtk::WebView,
    /// The current document's id and session.
    current: Option<(String, Session)>,
}

/// Frames waiting for the next main-loop turn, per document.
#[derive(Default)]
struct Outbox {
    doc: String,
    frames: Vec<String>,
    scheduled: bool,
}

/// Installs the handler and the relay on `webview` (GTK main thread only).
pub(crate) fn install(host_id: u64, webview: &webkit2gtk::WebView, bus: BusHandle, origin: &str) {
    let Some(manager) = webview.user_content_manager() else {
        tracing::error!("the WebView has no user content manager: no frame channel");
        return;
    };
    manager.register_script_message_handler_in_world(HANDLER, WORLD);
    let relay = RELAY
        .replace("__ORIGIN__", &js_string(origin))
        .replace("__HANDLER__", &js_string(HANDLER))
        .replace("__OUT__", &js_string(OUT_EVENT))
        .replace("__IN__", &js_string(IN_EVENT));
    manager.add_script(&UserScript::for_world(
        &relay,
        UserContentInjectedFrames::TopFrame,
        UserScriptInjectionTime::Start,
        WORLD,
        &[],
        &[],
    ));
    HOSTS.with(|h| {
        h.borrow_mut().insert(
            host_id,
            HostChannel {
                webview: webview.clone(),
                current: None,
            },
        )
    });
    let origin = origin.to_owned();
    manager.connect_script_message_received(Some(HANDLER), move |_, result| {
        let Some(text) = result.js_value().map(|v| v.to_str().to_string()) else {
            return;
        };
        on_message(host_id, &bus, &origin, &text);
    });
}

/// Forgets the host (its WebView is going away).
pub(crate) fn remove(host_id: u64) {
    HOSTS.with(|h| h.borrow_mut().remove(&host_id));
}

fn on_message(host_id: u64, bus: &BusHandle, origin: &str, text: &str) {
    let mut parts = text.splitn(3, ' ');
    let (Some(doc), Some(kind)) = (parts.next(), parts.next()) else {
        return;
    };
    match kind {
        "open" => open(host_id, bus, origin, doc),
        "f" => {
            let payload = parts.next().unwrap_or("");
            let session_matches = HOSTS.with(|h| {
                let hosts = h.borrow();
                let Some((current, session)) = hosts.get(&host_id).and_then(|c| c.current.as_ref())
                else {
                    return false;
                };
                if current != doc {
                    return false;
                }
                match BASE64.decode(payload) {
                    // Errors go back to the page as Error frames; nothing else to do here.
                    Ok(bytes) => {
                        let _ = session.receive(Bytes::from(bytes));
                    }
                    Err(e) => tracing::debug!("frame that is not base64 from the page: {e}"),
                }
                true
            });
            if !session_matches {
                tracing::debug!("frame from a document that is gone; dropped");
            }
        }
        _ => tracing::debug!("unknown relay message kind {kind:?}"),
    }
}

fn open(host_id: u64, bus: &BusHandle, origin: &str, doc: &str) {
    // The relay only runs in the top frame of our own origin: that is what the isolated
    // world guarantees, so this is the caller the session stamps on every request.
    let caller = Caller::new(Transport::Frames)
        .with_origin(origin)
        .with_frame(FrameKind::Main);
    let outbox = Arc::new(Mutex::new(Outbox {
        doc: doc.to_owned(),
        ..Outbox::default()
    }));
    let sink_outbox = outbox.clone();
    let session = Session::new(bus, SessionConfig::new(caller), move |frame| {
        let encoded = BASE64.encode(bus_core::protocol::encode(&frame));
        let schedule = {
            let mut outbox = sink_outbox.lock().unwrap_or_else(|e| e.into_inner());
            outbox.frames.push(encoded);
            !std::mem::replace(&mut outbox.scheduled, true)
        };
        if schedule {
            // Always deferred to the next main-loop turn (even when called on the main
            // thread), so frames queued meanwhile go in the same delivery.
            let outbox = sink_outbox.clone();
            glib::idle_add_full(glib::Priority::DEFAULT, move || {
                flush(host_id, &outbox);
                glib::ControlFlow::Break
            });
        }
    });
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot open a session for the page: {e}");
            return;
        }
    };
    HOSTS.with(|h| {
        if let Some(host) = h.borrow_mut().get_mut(&host_id) {
            // Replacing the old session drops it, which cancels its streams.
            host.current = Some((doc.to_owned(), session));
        }
    });
}

fn flush(host_id: u64, outbox: &Mutex<Outbox>) {
    let (doc, frames) = {
        let mut outbox = outbox.lock().unwrap_or_else(|e| e.into_inner());
        outbox.scheduled = false;
        (outbox.doc.clone(), std::mem::take(&mut outbox.frames))
    };
    if frames.is_empty() {
        return;
    }
    let mut script = String::with_capacity(frames.iter().map(|f| f.len() + 3).sum::<usize>() + 64);
    script.push_str("__inprocBusRelay.deliver(");
    script.push_str(&js_string(&doc));
    script.push_str(",[");
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            script.push(',');
        }
        // base64 needs no escaping inside double quotes.
        script.push('"');
        script.push_str(frame);
        script.push('"');
    }
    script.push_str("])");
    HOSTS.with(|h| {
        if let Some(host) = h.borrow().get(&host_id) {
            host.webview.evaluate_javascript(
                &script,
                Some(WORLD),
                None,
                gio::Cancellable::NONE,
                |result| {
                    if let Err(e) = result {
                        tracing::debug!("delivering frames failed: {e}");
                    }
                },
            );
        }
    });
}

/// A JS string literal for `s` (JSON is a subset of JS for strings).
fn js_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}
