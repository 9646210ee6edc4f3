//! The relay script's logic, run in Node with stand-ins for what WKWebView gives it (the
//! message handler, `location`, the document). The real engine is not available here (no
//! iOS); this checks the script's own decisions: the session id it opens, what it forwards,
//! what it delivers, and a new session after a restore from the back/forward cache.
//!
//! Needs `node` (scripts/test.sh installs it); a missing one fails with that sentence.

use std::process::Command;

const HARNESS: &str = r#"
const posted = [];
const resets = [];
const inbound = [];
globalThis.location = { protocol: 'app:', host: 'localhost' };
globalThis.self = globalThis;
globalThis.origin = process.argv[2];
globalThis.webkit = { messageHandlers: { inprocBus: { postMessage: (m) => { posted.push(m); return Promise.resolve(); } } } };
const doc = new EventTarget();
globalThis.document = doc;
// The window's listeners, called with stand-ins: Node's events cannot be made trusted, and
// the relay must tell a restore (trusted) from a pageshow page script dispatches.
const winListeners = {};
globalThis.addEventListener = (type, fn) => { (winListeners[type] ||= []).push(fn); };
const fire = (type, init) => { for (const fn of winListeners[type] || []) fn(Object.assign({ type }, init)); };
doc.addEventListener('inproc-bus-reset', () => resets.push(true));
doc.addEventListener('inproc-bus-in', (e) => inbound.push(e.detail));
(0, eval)(process.argv[1]);
if (globalThis.origin !== 'app://localhost') {
  // A document of an opaque origin at the app's URL (a CSP sandbox): no relay at all.
  console.log(JSON.stringify({ nothingPosted: posted.length === 0, noRelay: globalThis.__inprocBusRelay === undefined }));
  process.exit(0);
}
const relay = globalThis.__inprocBusRelay;
const idOf = (m) => m.split(' ')[1];
const first = idOf(posted[0]);
const out = { openedFirst: posted[0].startsWith('open ') };
doc.dispatchEvent(new CustomEvent('inproc-bus-out', { detail: 'AQID' }));
out.forwarded = posted[1] === `f ${first} AQID`;
out.deliveredToCurrent = relay.deliver(first, ['BAUG']) === true && inbound[0] === 'BAUG';
fire('pageshow', { isTrusted: true, persisted: false });
out.plainShowKeepsSession = posted.length === 2 && resets.length === 0;
// A pageshow page script dispatches (persisted: true, untrusted) ends nothing.
fire('pageshow', { isTrusted: false, persisted: true });
out.forgedShowKeepsSession = posted.length === 2 && resets.length === 0;
fire('pageshow', { isTrusted: true, persisted: true });
const second = idOf(posted[2]);
out.reopened = posted[2].startsWith('open ') && second !== first;
out.resetOnce = resets.length === 1;
out.oldIdRefused = relay.deliver(first, ['x']) === false && inbound.length === 1;
out.newIdDelivered = relay.deliver(second, ['CQoL']) === true && inbound[1] === 'CQoL';
doc.dispatchEvent(new CustomEvent('inproc-bus-out', { detail: 'DA0O' }));
out.forwardsWithNewId = posted[3] === `f ${second} DA0O`;
console.log(JSON.stringify(out));
"#;

#[test]
fn the_relay_reopens_its_session_after_a_back_forward_restore() {
    run_relay("app://localhost");
}

/// A page the app serves with a CSP `sandbox` has the app's URL and an opaque origin
/// (`self.origin` is `"null"`): the relay installs nothing there.
#[test]
fn the_relay_stays_out_of_a_document_of_an_opaque_origin() {
    run_relay("null");
}

/// Runs the relay in the harness for a document whose `self.origin` is `origin`; every
/// check it prints must hold.
fn run_relay(origin: &str) {
    let script = bridge_ios::scripts::relay_script("app://localhost");
    let output = Command::new("node")
        .args(["-e", HARNESS, &script, origin])
        .output()
        .unwrap_or_else(|e| {
            panic!("node is needed for this test (scripts/test.sh installs it): {e}")
        });
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the harness prints one JSON line");
    for (check, passed) in report.as_object().expect("an object") {
        assert_eq!(passed, true, "{check} failed: {report}");
    }
    let checks = if origin == "app://localhost" { 10 } else { 2 };
    assert_eq!(
        report.as_object().map(|o| o.len()),
        Some(checks),
        "{report}"
    );
}
