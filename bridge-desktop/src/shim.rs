//! The bridge-js shim as injected into the top frame.

/// The script injected at document start in the top frame: the bridge-js bundle, its
/// install call for `origin` over the DOM-event relay (fetch, XHR and EventSource through
/// frames), and the Media Source upgrade of `<video>`/`<audio>` on `origin` (WebKitGTK's
/// player cannot load custom schemes) — only when the document is of `origin`: a foreign
/// page gets nothing, nor does one with the app's URL and an opaque origin (served with a
/// CSP `sandbox`).
///
/// `documents_proven`: the navigation policy admits only the app's documents, so the
/// scheme takes the page's native requests for the app's, and the shim reads the cookie jar
/// synchronously at install (`cookies: { readAtStart: true }`: `document.cookie` is right
/// from the page's first script).
pub fn script(origin: &str, documents_proven: bool) -> String {
    let origin = bus_shim::js_string(origin);
    format!(
        "(() => {{\n  if (self.origin !== {origin} || location.protocol + '//' + location.host !== {origin}) return;\n{BUNDLE}\n  Object.defineProperty(globalThis, 'InprocBusBridge', {{ value: InprocBusBridge, configurable: false, writable: false }});\n  InprocBusBridge.install({{ origins: [{origin}], transport: InprocBusBridge.domEventTransport(), cookies: {{ readAtStart: {documents_proven} }} }});\n  InprocBusBridge.upgradeMedia({{ origins: [{origin}] }});\n}})();\n"
    )
}

/// The bridge-js bundle, from [`bus_shim::BUNDLE`].
pub const BUNDLE: &str = bus_shim::BUNDLE;
