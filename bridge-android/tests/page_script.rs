//! The Android page script (`scripts::page_script`, what the Java side's
//! `BusWebViewClient` evaluates into the main frame) in real Chromium: over the port it
//! installs, waits, and ignores every port the app did not post; over the
//! `addJavascriptInterface` fallback it carries fetch as frames, with the document's token.
//!
//! What Chromium cannot show: the app's own `postWebMessage` (a trusted `message` event
//! with no source window), which only Android makes. The JVM tests
//! (`java/src/test/.../BusWebViewClientTest.java`) check the Java side of that hand-over.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use android_emulator::{BINDING, Emulator};
use bridge_android::scripts::{Bridge, STATE_CONNECTED, STATE_WAITING, page_script};
use common::{App, ORIGIN, url};
use serde_json::Value;

const T: Duration = Duration::from_secs(20);
const STATE: &str = "globalThis[Symbol.for('inproc-bus.android')]?.value";

/// One Chromium at a time: the machine is small.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn over_the_port_the_script_waits_and_ignores_ports_the_app_did_not_post() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::new();
    let script = page_script(ORIGIN, Bridge::Port).unwrap();
    let emu = Emulator::builder(app.host.clone())
        .script(script.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/pages/basic.html")).unwrap();
    assert_eq!(emu.wait_for(STATE, T), Value::from(STATE_WAITING));
    // Evaluated again (onPageFinished does): it reports its state, installs nothing more.
    assert_eq!(emu.evaluate(&script).unwrap(), Value::from(STATE_WAITING));

    // A port from a script's own event (not trusted) or from a window's postMessage (it
    // has a source: the page itself, or a frame) is not the app's.
    emu.evaluate(
        "(() => {
          const a = new MessageChannel();
          dispatchEvent(new MessageEvent('message', { data: 'inproc-bus-port', ports: [a.port1] }));
          const b = new MessageChannel();
          postMessage('inproc-bus-port', '*', [b.port1]);
          return true;
        })()",
    )
    .unwrap();
    // Meanwhile a fetch waits for the port instead of escaping to the network.
    emu.evaluate(
        "globalThis.outcome = 'pending';
         fetch('/conf/text').then(r => r.text()).then(t => { globalThis.outcome = t; }, e => { globalThis.outcome = 'failed: ' + e; });
         true",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(emu.evaluate(STATE).unwrap(), Value::from(STATE_WAITING));
    assert_eq!(emu.evaluate("globalThis.outcome").unwrap(), "pending");

    // In a document of another origin it does nothing.
    assert_eq!(
        emu.evaluate(&page_script("https://other.invalid", Bridge::Port).unwrap())
            .unwrap(),
        "foreign"
    );
}

#[test]
fn over_the_interface_fallback_fetch_goes_as_frames_with_the_token() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::new();
    let token = "0123456789abcdef0123456789abcdef";
    // Plays the Java object: the host side refuses calls without the document's token,
    // then hands the frame to the emulator's binding (which plays the session's input).
    let fake = format!(
        "globalThis.__inprocBusInterface = {{ send(token, frame) {{ if (token === '{token}') globalThis.{BINDING}(frame); }} }};\n"
    );
    let script = page_script(
        ORIGIN,
        Bridge::Interface {
            name: "__inprocBusInterface",
            token,
        },
    )
    .unwrap();
    let emu = Emulator::builder(app.host.clone())
        .script(format!("{fake}{script}"))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/pages/basic.html")).unwrap();
    assert_eq!(emu.wait_for(STATE, T), Value::from(STATE_CONNECTED));
    let text = emu
        .evaluate("fetch('/conf/text').then(r => r.text())")
        .unwrap();
    assert_eq!(text, "hello");
    let echo = emu
        .evaluate("fetch('/conf/echo', { method: 'POST', body: 'a body' }).then(r => r.text())")
        .unwrap();
    assert_eq!(echo, "a body");
}
