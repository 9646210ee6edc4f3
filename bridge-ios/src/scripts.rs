//! The scripts the Swift host injects into the `WKWebView`, built here so the host stays
//! thin: the bridge-js shim for the page, and the relay that carries its frames to the
//! message handler.
//!
//! The frame channel has two halves, as on the desktop host:
//!
//! - [`page_script`] runs in the page's own world, in the **main frame only**, at document
//!   start: the bridge-js bundle, installed (only on a document of the app's origin) over
//!   its DOM-event transport — frames as base64 strings in `CustomEvent`s named
//!   [`OUT_EVENT`] (page → host) and [`IN_EVENT`] (host → page).
//! - [`relay_script`] runs in a **separate content world** ([`CONTENT_WORLD`],
//!   `WKContentWorld.world(name:)`), main frame only, where the message handler
//!   [`MESSAGE_HANDLER`] is registered: page scripts, and every iframe, cannot see the
//!   handler at all. The relay checks the document's origin, picks a random id for the
//!   document, says `open <id>`, forwards each outbound event as `f <id> <base64>`, and
//!   exposes `__inprocBusRelay.deliver(id, frames)` in its world for the host's
//!   `callAsyncJavaScript`, which dispatches inbound events only if `id` is still this
//!   document's. On a `pageshow` from the back/forward cache it takes a new id, says
//!   `open` again and dispatches [`RESET_EVENT`] for the shim.
//!
//! The Swift handler checks `frameInfo.isMainFrame` and `securityOrigin` on every message
//! as well (defence in depth), and opens a session per document id.

/// The content world of the relay and the message handler.
pub const CONTENT_WORLD: &str = "inproc-bus";

/// The script message handler's name (in [`CONTENT_WORLD`]).
pub const MESSAGE_HANDLER: &str = "inprocBus";

/// Page → host frames: a `CustomEvent` on `document` whose `detail` is a base64 frame
/// (bridge-js `domEventTransport`'s default).
pub const OUT_EVENT: &str = "inproc-bus-out";

/// Host → page frames: see [`OUT_EVENT`].
pub const IN_EVENT: &str = "inproc-bus-in";

/// Relay → shim: the relay opened a new session for a page the back/forward cache restored;
/// the shim fails the requests that were open (bridge-js `domEventTransport`'s default).
pub const RESET_EVENT: &str = "inproc-bus-reset";

/// The bridge-js bundle, from [`bus_shim::BUNDLE`].
pub const BUNDLE: &str = bus_shim::BUNDLE;

const RELAY: &str = r#"(() => {
  'use strict';
  if (self.origin !== __ORIGIN__ || location.protocol + '//' + location.host !== __ORIGIN__) return;
  const handlers = globalThis.webkit && globalThis.webkit.messageHandlers;
  const handler = handlers && handlers[__HANDLER__];
  if (!handler) return;
  const newId = () => Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join('-');
  let doc = newId();
  const report = (error) => console.warn('inproc-bus relay:', error);
  handler.postMessage('open ' + doc).catch(report);
  document.addEventListener(__OUT__, (event) => {
    if (typeof event.detail === 'string') handler.postMessage('f ' + doc + ' ' + event.detail).catch(report);
  });
  // A page the back/forward cache restores does not run this script again, and the host
  // gave its session to the next page: open a new one and tell the shim its open requests
  // are gone.
  addEventListener('pageshow', (event) => {
    if (!event.isTrusted || !event.persisted) return; // page script can dispatch a pageshow
    doc = newId();
    handler.postMessage('open ' + doc).catch(report);
    document.dispatchEvent(new CustomEvent(__RESET__));
  });
  Object.defineProperty(globalThis, '__inprocBusRelay', {
    value: Object.freeze({
      deliver(target, frames) {
        if (target !== doc) return false;
        for (const frame of frames) document.dispatchEvent(new CustomEvent(__IN__, { detail: frame }));
        return true;
      },
    }),
  });
})();
"#;

/// The page's script: the bridge-js bundle, then its install call for `origin` over the
/// DOM-event transport — only when the document is of `origin` (a foreign page the
/// WebView navigated to gets nothing).
///
/// ```
/// let script = bridge_ios::scripts::page_script("app://localhost");
/// assert!(script.contains("InprocBusBridge"));
/// ```
pub fn page_script(origin: &str) -> String {
    let origin = js_string(origin);
    format!(
        "(() => {{\n  if (self.origin !== {origin} || location.protocol + '//' + location.host !== {origin}) return;\n{BUNDLE}\n  Object.defineProperty(globalThis, 'InprocBusBridge', {{ value: InprocBusBridge, configurable: false, writable: false }});\n  if (typeof InprocBusBridge.install === 'function') InprocBusBridge.install({{ origins: [{origin}], transport: InprocBusBridge.domEventTransport() }});\n}})();\n"
    )
}

/// The relay's script, for [`CONTENT_WORLD`] (see the [module docs](self)).
///
/// ```
/// let script = bridge_ios::scripts::relay_script("app://localhost");
/// assert!(script.contains("\"inprocBus\""));
/// ```
pub fn relay_script(origin: &str) -> String {
    RELAY
        .replace("__ORIGIN__", &js_string(origin))
        .replace("__HANDLER__", &js_string(MESSAGE_HANDLER))
        .replace("__OUT__", &js_string(OUT_EVENT))
        .replace("__IN__", &js_string(IN_EVENT))
        .replace("__RESET__", &js_string(RESET_EVENT))
}

use bus_shim::js_string;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_cannot_escape_their_literal() {
        assert_eq!(
            js_string("app://localhost:8080"),
            "\"app://localhost:8080\""
        );
        let hostile = js_string("x\"; alert(1); //</script>\u{2028}é");
        assert!(!hostile[1..hostile.len() - 1].contains(['"', '<', '\n', '\u{2028}', ' ']));
        assert!(hostile.contains("\\u0022"));
        assert!(hostile.contains("\\u00e9"));
    }

    #[test]
    fn scripts_check_the_origin_and_name_the_channel() {
        let relay = relay_script("app://localhost");
        assert!(relay.contains("!== \"app://localhost\") return;"));
        assert!(relay.contains("handlers[\"inprocBus\"]"));
        assert!(relay.contains("\"inproc-bus-out\""));
        for placeholder in ["__ORIGIN__", "__HANDLER__", "__OUT__", "__IN__"] {
            assert!(
                !relay.contains(placeholder),
                "{placeholder} is left in {relay}"
            );
        }
        let page = page_script("app://localhost");
        assert!(page.starts_with("(() => {\n  if (self.origin !== \"app://localhost\" || location.protocol + '//' + location.host !== \"app://localhost\") return;"));
        assert!(page.contains("origins: [\"app://localhost\"]"));
    }
}
