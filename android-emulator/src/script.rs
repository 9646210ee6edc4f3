//! The script injected at document start: the bridge-js bundle and its install call over
//! the binding, in the app origin's main frame only.

/// The bridge-js bundle (`bridge-js/dist/bus-bridge.js`), copied here by
/// `scripts/sync-shim.sh` so a build needs no Node.js.
pub const BUNDLE: &str = bus_shim::BUNDLE;

/// The document-start script for `origin`: installs the shim over `bindingTransport`
/// (outbound: the binding `binding`, captured before any page script runs; inbound:
/// `__inprocBusDeliver`) with Android's routing — bodiless GET/HEAD fetch/XHR through the
/// engine (interception), everything else as frames. On a form-result page
/// (`/__bus/result/<token>#<action URL>`) it first replaces the URL with the action URL.
/// Does nothing in a frame that is not the top frame, or in a document of another origin,
/// but give the app's iframes `document.cookie` over the top document's shim
/// ([`bus_shim::frame_cookie_script`]; the script runs in every frame, as
/// `addDocumentStartJavaScript`'s does).
pub fn shim_script(origin: &str, binding: &str) -> String {
    let origin_raw = origin;
    let origin = js(origin);
    let binding = js(binding);
    let result = js(bridge_android::host::RESULT_PREFIX);
    let frames = bus_shim::frame_cookie_script(origin_raw);
    format!(
        r#"{frames}(() => {{
  'use strict';
  if (location.origin !== {origin} || window !== window.top) return;
  const send = globalThis[{binding}];
  if (typeof send !== 'function') return;
  // A form result (README, "Forms", step 5): show the action URL, before the parser
  // resolves any relative URL of the result against /__bus/result/.
  if (location.pathname.startsWith({result}) && location.hash.length > 1) {{
    try {{
      const target = new URL(decodeURIComponent(location.hash.slice(1)), location.href);
      if (target.origin === location.origin) history.replaceState(history.state, '', target.href);
    }} catch (e) {{ /* not a URL: stay where we are */ }}
  }}
{BUNDLE}
  Object.defineProperty(globalThis, 'InprocBusBridge', {{ value: InprocBusBridge, configurable: false, writable: false }});
  InprocBusBridge.install({{
    origins: [{origin}],
    transport: InprocBusBridge.bindingTransport({{ send: (frame) => send(frame) }}),
    // fetch and XHR go as frames (the default), bodiless GETs included: interception
    // cannot answer a redirect (WebResourceResponse refuses 3xx, so the host follows it
    // and the page sees the wrong URL), cannot stream, and cannot be cancelled. The
    // conformance suite showed each. The engine's own loads (navigations, <img>) are
    // still intercepted.
    nativeBodyMarker: false,
    // POST forms go through the host's result stash (README, "Forms"); until the shim has
    // that mode, the page drives it, so the shim's own form takeover stays off here.
    forms: false,
    // The jar read once at install through interception (a synchronous XHR, proven the
    // app's by its Referer): document.cookie is right from the page's first script.
    cookies: {{ readAtStart: true }},
  }});
}})();
"#
    )
}

use bus_shim::js_string as js;
