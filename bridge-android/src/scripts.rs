//! The script the Android host puts into the app's main frame: the bridge-js bundle and its
//! `install()` call, over one of Android's two string bridges.
//!
//! - [`Bridge::Port`] (the default): the framework `WebMessageChannel`. The script installs
//!   the shim at once over a `queuedTransport` (requests made before the port arrives wait
//!   instead of escaping) and connects it to the first port the *app* posts to the window:
//!   a trusted `message` event (`isTrusted`) with no `source` window and one port. A
//!   frame's `postMessage` always has a `source` (its window), and a script's synthetic
//!   event is not trusted, so neither a foreign iframe nor a page script of another
//!   origin can hand the page a port of its own. The host posts the port with
//!   `WebView.postWebMessage(message, Uri.parse(appOrigin))`, which the platform delivers
//!   only to a main-frame document of the app origin.
//! - [`Bridge::Interface`] (fallback): `addJavascriptInterface`, which every frame sees and
//!   which cannot tell who called it. The script captures the interface object and a
//!   per-document token the host made, before any other script of the page can ask for
//!   them, and sends `interface.send(token, frame)`; the host refuses calls without the
//!   current document's token. Inbound frames come through `evaluateJavascript` of
//!   [`delivery_script`](crate::host::delivery_script).
//!
//! Either way the script does nothing in a frame that is not the top frame or in a document
//! of another origin, is harmless when run twice in one document (it returns the state of
//! the first run), and returns that state to `evaluateJavascript`'s callback:
//! [`STATE_WAITING`] (installed, waiting for its port: post one), [`STATE_CONNECTED`],
//! [`STATE_FOREIGN`] (not the app's top document: nothing was installed).

use crate::host::RESULT_PREFIX;

/// The bridge-js bundle, from [`bus_shim::BUNDLE`].
pub const BUNDLE: &str = bus_shim::BUNDLE;

/// The `data` of the message that carries the port: `new WebMessage(PORT_MESSAGE, ports)`.
pub const PORT_MESSAGE: &str = "inproc-bus-port";

/// Returned by the script: installed, no port yet — post one.
pub const STATE_WAITING: &str = "waiting";
/// Returned by the script: installed and connected already.
pub const STATE_CONNECTED: &str = "connected";
/// Returned by the script: not the app origin's top document; nothing installed.
pub const STATE_FOREIGN: &str = "foreign";

/// How the page's frames reach the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bridge<'a> {
    /// A `WebMessagePort` the host posts to the main frame (see the module docs).
    Port,
    /// An `addJavascriptInterface` object, and the document's token.
    Interface {
        /// The name the object was added under (a JS identifier).
        name: &'a str,
        /// 32 lower-case hex digits, new for each document.
        token: &'a str,
    },
}

/// The script for the app's iframes, which have no shim: their `document.cookie` reads and
/// writes the bus's jar through the top document's installation
/// ([`bus_shim::frame_cookie_script`]). Inject it at document start in every frame of the
/// app origin (androidx `WebViewCompat.addDocumentStartJavaScript` with the app origin as
/// its allowed origin rule); without androidx an iframe keeps the engine's own
/// `document.cookie`.
///
/// ```
/// let script = bridge_android::scripts::frame_script("https://app.invalid");
/// assert!(script.contains("installation"));
/// ```
pub fn frame_script(origin: &str) -> String {
    bus_shim::frame_cookie_script(origin)
}

/// Why a script could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The interface name is not a plain JS identifier.
    #[error("not a JavaScript identifier: {0:?}")]
    InterfaceName(String),
    /// The token is not 32 lower-case hex digits.
    #[error("a document token is 32 lower-case hex digits")]
    Token,
}

/// The main-frame script for `origin` (the host's app origin, `scheme://host[:port]`) over
/// `bridge`. Inject it at page start (`WebViewClient.onPageStarted` →
/// `evaluateJavascript`; with androidx, `addDocumentStartJavaScript`) — see the README for
/// what onPageStarted does not guarantee.
///
/// ```
/// use bridge_android::scripts::{page_script, Bridge};
/// let script = page_script("https://app.invalid", Bridge::Port).unwrap();
/// assert!(script.contains("InprocBusBridge.queuedTransport()"));
/// ```
///
/// # Errors
/// [`ScriptError`] for an interface name that is not an identifier or a malformed token.
pub fn page_script(origin: &str, bridge: Bridge<'_>) -> Result<String, ScriptError> {
    let origin_js = js(origin);
    let result = js(RESULT_PREFIX);
    let (capture, connect) = match bridge {
        Bridge::Port => (
            String::new(),
            format!(
                r#"  addEventListener('message', function onPort(e) {{
    // Only the app's own postWebMessage: trusted, from no window, with one port.
    if (!e.isTrusted || e.source !== null || e.data !== {port} || !e.ports || e.ports.length !== 1) return;
    e.stopImmediatePropagation();
    removeEventListener('message', onPort, true);
    queued.connect(InprocBusBridge.messagePortTransport(e.ports[0]));
    state.value = {connected};
  }}, true);
"#,
                port = js(PORT_MESSAGE),
                connected = js(STATE_CONNECTED),
            ),
        ),
        Bridge::Interface { name, token } => {
            if !is_identifier(name) {
                return Err(ScriptError::InterfaceName(name.to_owned()));
            }
            if token.len() != 32
                || !token
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(ScriptError::Token);
            }
            (
                format!(
                    "  const bridge = globalThis[{name}];\n  if (bridge === null || typeof bridge !== 'object' || typeof bridge.send !== 'function') return {foreign};\n  const token = {token};\n",
                    name = js(name),
                    token = js(token),
                    foreign = js(STATE_FOREIGN),
                ),
                format!(
                    "  queued.connect(InprocBusBridge.bindingTransport({{ send: (frame) => {{ bridge.send(token, frame); }} }}));\n  state.value = {};\n",
                    js(STATE_CONNECTED)
                ),
            )
        }
    };
    let mut script = String::with_capacity(BUNDLE.len() + 4096);
    let _ = write!(
        script,
        r#"(() => {{
  'use strict';
  // The document's origin too: a page served with a CSP `sandbox` has the app's URL and an
  // opaque origin, and is not the app.
  if (location.origin !== {origin_js} || self.origin !== {origin_js} || window !== window.top) return {foreign};
  const STATE = Symbol.for('inproc-bus.android');
  const existing = Object.getOwnPropertyDescriptor(globalThis, STATE);
  if (existing !== undefined) return existing.value.value;
{capture}  // A form result (README, "Forms", step 5): show the action URL, before the parser
  // resolves any relative URL of the result against /__bus/result/.
  if (location.pathname.startsWith({result}) && location.hash.length > 1) {{
    try {{
      const target = new URL(decodeURIComponent(location.hash.slice(1)), location.href);
      if (target.origin === location.origin) history.replaceState(history.state, '', target.href);
    }} catch (e) {{ /* not a URL: stay where we are */ }}
  }}
"#,
        foreign = js(STATE_FOREIGN),
    );
    script.push_str(BUNDLE);
    let _ = write!(
        script,
        r#"
  const state = {{ value: {waiting} }};
  Object.defineProperty(globalThis, STATE, {{ value: state, configurable: false, writable: false, enumerable: false }});
  if (globalThis.InprocBusBridge === undefined) {{
    Object.defineProperty(globalThis, 'InprocBusBridge', {{ value: InprocBusBridge, configurable: false, writable: false }});
  }}
  const queued = InprocBusBridge.queuedTransport();
  InprocBusBridge.install({{
    origins: [{origin_js}],
    transport: queued,
    // Every fetch/XHR goes as frames: interception cannot carry a redirect, stream or
    // cancel (bridge-android README). Native <form method=post> would lose its body on
    // the way to shouldInterceptRequest: the shim takes every POST form over.
    nativeBodyMarker: false,
    forms: 'all',
    // The jar read once at install through interception (a synchronous XHR, which
    // shouldInterceptRequest proves the app's by its Referer): document.cookie is right
    // from the page's first script.
    cookies: {{ readAtStart: true }},
  }});
{connect}  return state.value;
}})();
"#,
        waiting = js(STATE_WAITING),
    );
    Ok(script)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && name.len() <= 64
}

use std::fmt::Write as _;

use bus_shim::js_string as js;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_check_origin_and_top_and_escape_what_they_embed() {
        let port = page_script("https://app.invalid", Bridge::Port).unwrap();
        assert!(port.starts_with(
            "(() => {\n  'use strict';\n  // The document's origin too: a page served with a CSP `sandbox` has the app's URL and an\n  // opaque origin, and is not the app.\n  if (location.origin !== \"https://app.invalid\" || self.origin !== \"https://app.invalid\" || window !== window.top) return \"foreign\";"
        ));
        assert!(port.contains("e.source !== null"));
        assert!(port.contains(BUNDLE));
        let iface = page_script(
            "https://app.invalid",
            Bridge::Interface {
                name: "inprocBus",
                token: "0123456789abcdef0123456789abcdef",
            },
        )
        .unwrap();
        assert!(iface.contains("bridge.send(token, frame)"));
        assert!(!iface.contains("addEventListener('message'"));
        assert_eq!(
            page_script(
                "https://app.invalid",
                Bridge::Interface {
                    name: "a;alert(1)",
                    token: "0123456789abcdef0123456789abcdef"
                }
            ),
            Err(ScriptError::InterfaceName("a;alert(1)".into()))
        );
        for token in ["", "0123456789ABCDEF0123456789abcdef", "\"+alert(1)+\""] {
            assert_eq!(
                page_script(
                    "https://app.invalid",
                    Bridge::Interface { name: "x", token }
                ),
                Err(ScriptError::Token)
            );
        }
        assert_eq!(js("a\"</script>"), "\"a\\u0022\\u003c/script\\u003e\"");
    }
}
