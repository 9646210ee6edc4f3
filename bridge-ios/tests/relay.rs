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
globalThis.webkit = { messageHandlers: { inprocBus: { postMessage: (m) => { posted.push(m); return Promise.resolve(); } } } };
const doc = new EventTarget();
globalThis.document = doc;
const win = new EventTarget();
globalThis.addEventListener = win.addEventListener.bind(win);
doc.addEventListener('inproc-bus-reset', () => resets.push(true));
doc.addEventListener('inproc-bus-in', (e) => inbound.push(e.detail));
(0, eval)(process.argv[1]);
const relay = globalThis.__inprocBusRelay;
const idOf = (m) => m.split(' ')[1];
const first = idOf(posted[0]);
const out = { openedFirst: posted[0].startsWith('open ') };
doc.dispatchEvent(new CustomEvent('inproc-bus-out', { detail: 'AQID' }));
out.forwarded = posted[1] === `f ${first} AQID`;
out.deliveredToCurrent = relay.deliver(first, ['BAUG']) === true && inbound[0] === 'BAUG';
const plain = new Event('pageshow'); plain.persisted = false; win.dispatchEvent(plain);
out.plainShowKeepsSession = posted.length === 2 && resets.length === 0;
const restored = new Event('pageshow'); restored.persisted = true; win.dispatchEvent(restored);
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
    let script = bridge_ios::scripts::relay_script("app://localhost");
    let output = Command::new("node")
        .args(["-e", HARNESS, &script])
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
    assert_eq!(report.as_object().map(|o| o.len()), Some(9), "{report}");
}
