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
//!   from an old document never reaches a new one; the hello must carry a token the host
//!   put in the relay's world on that document's commit (`evaluate_javascript` in
//!   [`WORLD`]), one per commit: a related view (a popup) shares these handlers and runs the
//!   relay too, but no commit of this view gives it a token, so it cannot end or replace
//!   this view's session;
//! - frames for the page travel as **replies**: the relay keeps three `postMessage`s to a
//!   second handler, registered with reply, outstanding; the host answers the oldest with
//!   every frame queued since the last answer (one string: a marker, then the frames
//!   separated by spaces), and the relay asks again. Small answers pass a big download's
//!   queued data (each stream's frames in order), and the last outstanding request is
//!   kept for them: a small GET while 1 GiB was read took 1.1-1.5 ms instead of 1.6-2.0
//!   (`benches webview --quick`, two runs each). In the page, the relay hands a big
//!   download's data over a piece (about one 64 KiB frame) per task while the page waits
//!   for other answers (and for 50 ms, `HOLD_MS`, after the last), so an answer that arrives
//!   behind a megabyte of queued data is handed over after one piece, not after all of it;
//!   the next piece's task is the reply to a `"<doc> now"` request, which the host answers
//!   at once with any queued frames that are not bulk data. While the page waits for an
//!   answer it asked for under 5 ms ago, a piece goes only every 2 ms or so, and none in
//!   the task that hands an answer over; a piece held back asks `"<doc> after <ms>"`,
//!   which the host answers from its own timer (the page shares the isolated world's
//!   timer ids and could clear a timer of the relay's). Without other requests in
//!   flight the data goes whole. The first such message opens the
//!   document's session. A reply is one IPC message that settles a promise; the
//!   `evaluate_javascript` this replaced compiled and ran a script per delivery and sent
//!   its result back (a no-op one cost 147 µs here). The string travels as the message
//!   of a rejection, the one reply WebKit takes without a JavaScriptCore value (see
//!   `ffi::Reply` for the crashes values caused). A reply carries at most 2 MiB;
//! - what page script can make the host hold is bounded: the relay drops a frame longer than
//!   any the host takes ([`MAX_FRAME`] bytes), posts at most 2 MiB of characters in one
//!   message, and once 8 MiB are posted that the host may not have read, holds
//!   further messages in the page until the host answers a `"<doc> ack"` request (messages
//!   are read in order);
//! - large request bodies cross as **bytes**, not base64: the relay hands the page a
//!   `MessagePort` (in a `MessageEvent` of [`PORT_EVENT`] on the document; the shim asks for
//!   it with [`HELLO_EVENT`]); the page transfers a body's `ArrayBuffer` through it (no copy)
//!   with the id of a stream whose head it sent as a frame, and the relay — not page
//!   script — POSTs those bytes to the app scheme with a per-host secret header
//!   ([`CARRIER_HEADER`]) that only the isolated world knows. The scheme handler reads a
//!   body only with that secret (the relay always sends a plain `Uint8Array`, never a
//!   Blob-backed body, which would crash WebKitGTK), and this module feeds it to the
//!   stream as `RequestData`/`RequestEnd` within the session's upload credit. See
//!   docs/ARCHITECTURE.md, "Binary carriers";
//! - when the web process extension is loaded (`crate::socket`), the relay sends the same
//!   messages, and gets the same answers, over a socketpair to the host instead of the two
//!   handlers (chosen per session, when it opens): frames to the page then come as bytes
//!   (`Uint8Array`s the relay hands the page as the event's detail) and carried bodies cross
//!   the socket as bytes instead of a scheme POST; the checks here are the same for both;
//! - a page the back/forward cache restores opens a new session with the token of the
//!   commit that restored it (its relay does not run again, and its old session ended when
//!   the next page committed) and tells the shim with [`RESET_EVENT`]; every commit ends the
//!   current session, so the old page's streams stop, whatever the new page is.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bus_core::port::{Session, SessionConfig};
use bus_core::protocol::{Frame, INITIAL_UPLOAD_WINDOW, MAX_DATA, MAX_FRAME};
use bus_core::{BusHandle, Caller, FrameKind, Transport};
use bytes::Bytes;
use glib::prelude::*;
use javascriptcore::ValueExt;
use webkit2gtk::UserContentManagerExt;
use webkit2gtk::WebViewExt as _;
use webkit2gtk::{UserContentInjectedFrames, UserScript, UserScriptInjectionTime};

use crate::HostError;
use crate::ffi::Reply as ScriptReply;
use crate::socket;

/// The answer to one of the relay's requests, by the carrier it came on.
#[derive(Debug)]
enum Reply {
    Script(ScriptReply),
    Socket(socket::Answer),
}

impl Reply {
    /// Rejects the relay's promise with `text` as the message (dropped unsent, it resolves
    /// with `undefined`).
    fn send_text(self, text: String) {
        match self {
            Reply::Script(r) => r.send_text(text),
            Reply::Socket(a) => a.send_text(text),
        }
    }
}

/// The isolated script world of the relay and the message handler.
pub const WORLD: &str = "inproc-bus";

/// The name, in [`WORLD`], of the handler for frames from the page.
const HANDLER: &str = "inprocBus";

/// The name, in [`WORLD`], of the handler (with reply) whose replies carry frames to the
/// page.
const PULL: &str = "inprocBusPull";

/// What starts every reply that carries frames (any other settlement ends the relay's loop).
const MARK: &str = "inproc-bus-frames:";

/// The reply to an `open` without the token of this view's last commit.
const REFUSED: &str = "inproc-bus-refused";

/// Event names shared with bridge-js's `domEventTransport`.
pub const OUT_EVENT: &str = "inproc-bus-out";
/// See [`OUT_EVENT`].
pub const IN_EVENT: &str = "inproc-bus-in";
/// See [`OUT_EVENT`]: the relay opened a new session for a page the back/forward cache
/// restored.
pub const RESET_EVENT: &str = "inproc-bus-reset";
/// A `MessageEvent` the relay dispatches on the document, its `ports[0]` the upload
/// carrier's port (see the module docs).
pub const PORT_EVENT: &str = "inproc-bus-port";
/// The shim asks the relay for [`PORT_EVENT`] again (when it installed after the relay ran).
pub const HELLO_EVENT: &str = "inproc-bus-hello";
/// The header of the relay's carrier requests; its value is the host's secret.
pub const CARRIER_HEADER: &str = "x-inproc-bus-carrier";
/// The path of the relay's carrier requests on the app origin (`?doc=<id>&stream=<n>`).
pub const CARRIER_PATH: &str = "/.inproc-bus/upload";
/// The relay's function, a global of [`WORLD`], that takes the token of a commit.
const COMMIT_GLOBAL: &str = "__inprocBusCommit";
/// The web process extension's function in [`WORLD`] (see `crate::socket`).
const WIRE_GLOBAL: &str = "__inprocBusWire";
/// Where, in [`WORLD`], the host leaves a commit's token when the relay has not run yet.
const PENDING_GLOBAL: &str = "__inprocBusPendingCommit";

const RELAY: &str = r#"(() => {
  'use strict';
  // The document's origin, not only its URL's: a page the app serves with a CSP `sandbox`
  // has the app's URL and an opaque origin, and is not the app.
  if (self.origin !== __ORIGIN__ || location.protocol + '//' + location.host !== __ORIGIN__) return;
  const handlers = globalThis.webkit && globalThis.webkit.messageHandlers;
  const handler = handlers && handlers[__HANDLER__];
  const pull = handlers && handlers[__PULL__];
  if (!handler || !pull) return;
  // The web process extension's socket to the host (bridge-desktop-webext), when it is
  // loaded: the same messages as the two handlers above, and carried bodies as bytes,
  // without WebKit's script messages. Defined by the extension in this world, main frame
  // only. Chosen per session, when it opens (the socket's handshake is asynchronous).
  const wire = typeof globalThis[__WIRE__] === 'function' ? globalThis[__WIRE__] : null;
  let viaSocket = false;
  let opening = null; // the token of an open over the socket not answered yet
  const pending = new Map(); // the socket's asks, by id -> [resolve, reject]
  // The socket failed or closed: every ask ends, as a dropped reply ends it, and the
  // session it carried is gone; the page is told (its open requests fail, not hang), and a
  // new session opens over script messages with the token the host gives for it.
  const lose = () => {
    const all = Array.from(pending.values());
    pending.clear();
    for (const [ok] of all) ok();
    if (!viaSocket) return;
    viaSocket = false;
    // An open the host has not answered may never have reached it: its token is still the
    // host's, and the next open shows it again (if the host did take it, it refuses the
    // open, and gives a new token for the session that socket carried).
    if (opening !== null && token === null) token = opening;
    reset();
  };
  const onWire = (kind, id, text) => {
    if (kind === 0) {
      lose();
      return;
    }
    const settle = pending.get(id);
    if (settle === undefined) return;
    pending.delete(id);
    if (kind === 1) settle[1]({ message: text });
    else if (kind === 3) settle[1]({ frames: text }); // frames as bytes: Uint8Arrays
    else settle[0]();
  };
  const answerOf = (id) => {
    if (typeof id === 'number') return new Promise((ok, fail) => pending.set(id, [ok, fail]));
    queueMicrotask(lose); // not written: the socket is gone
    return Promise.resolve();
  };
  // Buffers the socket carried bodies from, free for the next (see `takeSlab` below), and
  // when one was last taken or given back.
  let slabs = [];
  let slabBytes = 0;
  let slabUsed = 0;
  // Let go once no upload used them for __SLAB_IDLE__ ms, looked at whenever the relay asks
  // the host anything (it sets no timer: the page shares this world's timer ids, and could
  // clear one).
  const dropIdleSlabs = () => {
    if (slabs.length > 0 && performance.now() - slabUsed > __SLAB_IDLE__) {
      slabs = [];
      slabBytes = 0;
    }
  };
  // A request the host answers (as a reply of the pull handler settles: frames and other
  // answers as a rejection's message, the end as `undefined`).
  const ask = (message) => {
    dropIdleSlabs();
    return viaSocket ? answerOf(wire(2, message)) : pull.postMessage(message);
  };
  const postFrames = (message) => {
    if (!viaSocket) handler.postMessage(message);
    else if (wire(1, message) !== true) queueMicrotask(lose);
  };
  // A session id for this showing of the document. A page the back/forward cache restores
  // does not run this script again, and the host gave its session up when the next page
  // opened: on such a `pageshow` the relay takes a new id, opens a new session and tells
  // the shim (`inproc-bus-reset`) that its open requests are gone.
  const newId = () => Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join('-');
  let doc = newId();
  // The host's proof that this document is its own view's: after each commit of its view,
  // the host puts a fresh token in this world (a global of this world, which page script
  // cannot see; it may come before or after this script runs), and `open` must carry it. A
  // related view (a popup) shares these message handlers, but no commit of the host's view
  // gives it a token: its relay never opens a session, nor replaces this view's. (It can
  // still navigate its opener, `window.opener.location`, as on the web, where the navigation
  // policy decides: a new document, with a session of its own.)
  let token = null;
  let wantOpen = false;
  let opened = false;
  const commit = (t) => {
    if (typeof t !== 'string') return;
    token = t;
    if (wantOpen) {
      wantOpen = false;
      start();
    }
  };
  if (typeof globalThis[__PENDING__] === 'string') commit(globalThis[__PENDING__]);
  delete globalThis[__PENDING__];
  globalThis[__COMMIT__] = commit;
  // The first frame the page sends in a task goes to the host at once (a page that blocks
  // its thread after send() must not hold its request back: XHR's timeout counts from
  // there); the task's other frames go together, in one message a microtask later. Each
  // postMessage is an IPC hop to the UI process, and 100 requests started together were
  // 100 of them.
  //
  // Page script can dispatch these events as big and as often as it likes, and each
  // postMessage is a copy in the host's process until its handler has read it: a frame
  // longer than the longest the host takes is dropped here, a task's frames go in messages
  // of at most __MAX_MESSAGE__ characters, and once __IN_FLIGHT__ characters are posted that
  // the host may not have read yet, further messages wait here (in the page) until the host
  // answers an `ack` request. The host reads messages in order, so its answer means it has
  // read everything posted before it.
  let out = null;
  let outChars = 0;
  const flush = () => {
    const frames = out;
    out = null;
    if (frames.length > 0) post(doc + ' ' + frames.join(' '));
  };
  let unread = 0; // characters posted that the host may not have read yet
  let acking = false;
  const held = []; // messages waiting for the host to catch up, in order
  const post = (message) => {
    // Before the session opens, and behind messages held for the host to catch up.
    if (!opened || held.length > 0 || unread > __IN_FLIGHT__) {
      held.push(message);
      if (opened) ack();
      return;
    }
    postFrames(message);
    unread += message.length;
  };
  const ack = () => {
    if (acking) return;
    acking = true;
    const id = doc;
    const upTo = unread;
    // Resolved (with undefined): the host ended this session, and nothing more goes to it.
    ask(id + ' ack').then(() => {}, () => {
      if (id !== doc) return;
      acking = false;
      unread -= upTo;
      drain();
    });
  };
  const drain = () => {
    while (held.length > 0 && unread <= __IN_FLIGHT__) {
      const message = held.shift();
      postFrames(message);
      unread += message.length;
    }
    if (held.length > 0) ack();
    else carryHeld();
  };
  // A carried body goes after its stream's head: while messages are held, so is the body's
  // request (the host refuses a body for a stream it has not seen).
  const afterHeld = [];
  const carryHeld = () => {
    const jobs = afterHeld.splice(0, afterHeld.length);
    for (const job of jobs) job();
  };
  document.addEventListener(__OUT__, (event) => {
    const frame = event.detail;
    if (typeof frame !== 'string' || frame.length > __MAX_FRAME_CHARS__) return;
    sent(frame);
    if (out === null) {
      post(doc + ' ' + frame);
      out = [];
      outChars = 0;
      queueMicrotask(flush);
    } else {
      if (outChars + frame.length > __MAX_MESSAGE__) {
        flush();
        out = [];
        outChars = 0;
      }
      out.push(frame);
      outChars += frame.length + 1;
    }
  });
  // The frames of a reply, or null when it ends the loop: resolved (with undefined), the
  // host ended this session; frames come as the message of a rejection (see
  // bridge-desktop's ffi.rs).
  const framesOf = (e) => {
    if (e && Array.isArray(e.frames)) return e.frames;
    const message = e && e.message;
    return typeof message === 'string' && message.startsWith(__MARK__) ? message.slice(__MARK__.length) : null;
  };
  // Three requests stay outstanding, so the host can answer one while the page is still
  // dispatching another's frames, and keeps one for small answers while a big download's
  // data fills the others. Replies settle in the order they are sent and each batch is
  // taken synchronously when its promise settles: order is kept.
  const loop = async (id, message) => {
    for (;;) {
      let batch;
      try {
        await ask(message);
        if (id === doc && viaSocket) opening = null; // answered in order: the open reached it
        return;
      } catch (e) {
        if (id === doc && viaSocket) opening = null;
        if (e && e.message === __REFUSED__) {
          if (id === doc) reset(); // start again with the next token
          return;
        }
        batch = framesOf(e);
      }
      if (batch === null || id !== doc) return; // ended, or a session this document has replaced
      message = id;
      if (batch.length > 0) take(batch);
    }
  };
  // While the page waits for other answers, a big download's data is handed to it a piece
  // at a time, each piece in a task of its own, so those answers (and the page's other
  // work) run between the pieces instead of after the whole of what arrived before them.
  // Each stream's frames keep their order. Without other requests in flight (and for a
  // while after the last answer: a page that asks again at once would otherwise get the
  // whole backlog before its next request), data goes at once, whole.
  const queue = [];
  let head = 0;
  const queued = new Map(); // stream -> its frames in the queue
  const asked = new Map(); // streams sent, no answer yet -> when (performance.now())
  const answering = new Set(); // streams whose head came, whose body has been small so far
  let calmAt = 0;
  const busy = () => asked.size > 0 || answering.size > 0 || performance.now() < calmAt;
  // A frame's size in base64 characters (a frame from the socket is a Uint8Array).
  const size = (frame) => typeof frame === 'string' ? frame.length : Math.ceil(frame.length / 3) * 4;
  // A frame's variant and stream (bytes 1-8, after the version): its first 12 base64
  // characters, or its bytes.
  const headOf = (frame) => {
    if (typeof frame !== 'string') {
      if (frame.length < 9) return [-1, -1];
      const at = (i) => (frame[i] | (frame[i + 1] << 8) | (frame[i + 2] << 16) | (frame[i + 3] << 24)) >>> 0;
      return [at(1), at(5)];
    }
    let b;
    try {
      b = atob(frame.slice(0, 12));
    } catch {
      return [-1, -1]; // not base64: the host refuses it, as before
    }
    const at = (i) => (b.charCodeAt(i) | (b.charCodeAt(i + 1) << 8) | (b.charCodeAt(i + 2) << 16) | (b.charCodeAt(i + 3) << 24)) >>> 0;
    return [at(1), at(5)];
  };
  const sent = (frame) => {
    const [variant, stream] = headOf(frame);
    if (variant === 0) {
      // (Page script can send heads the host refuses, which are never answered: the oldest
      // is forgotten past a bound.)
      if (asked.size >= __MAX_ASKED__ && !asked.has(stream)) asked.delete(asked.keys().next().value);
      asked.set(stream, performance.now()); // RequestHead
    } else if (variant === 6) {
      asked.delete(stream); // Cancel
      answering.delete(stream);
    }
  };
  // What a frame from the host says about its stream (variants: 3 ResponseHead,
  // 5 ResponseEnd, 8 Error, 9 Response).
  const answered = (variant, stream, bulk) => {
    if (bulk) {
      // A download: nobody waits on it for a small answer.
      asked.delete(stream);
      answering.delete(stream);
    } else if (variant === 3) {
      if (asked.delete(stream)) {
        answering.add(stream);
        justAnswered();
      }
    } else if (variant === 9 || variant === 5 || variant === 8) {
      if (asked.delete(stream) | answering.delete(stream)) {
        calmAt = performance.now() + __HOLD__;
        justAnswered();
      }
    }
  };
  const dispatch = (detail) => document.dispatchEvent(new CustomEvent(__IN__, { detail }));
  // Base64 frames as one event (the shim splits them); a Uint8Array frame as an event of
  // its own (the page gets a copy: the engine clones an object across worlds).
  const deliver = (frames) => {
    if (typeof frames === 'string') {
      dispatch(frames);
      return;
    }
    let text = [];
    for (const frame of frames) {
      if (typeof frame === 'string') {
        text.push(frame);
        continue;
      }
      if (text.length > 0) dispatch(text.join(' '));
      text = [];
      dispatch(frame);
    }
    if (text.length > 0) dispatch(text.join(' '));
  };
  const take = (batch) => {
    const now = [];
    const frames = typeof batch === 'string' ? batch.split(' ') : batch;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      const [variant, stream] = headOf(frame);
      const bulk = size(frame) > __BULK__;
      answered(variant, stream, bulk);
      const n = queued.get(stream) || 0;
      if (n === 0 && !(bulk && busy())) {
        now.push(frame);
      } else {
        queue.push([stream, frame]);
        queued.set(stream, n + 1);
      }
    }
    // The whole lot as one event: the shim splits it (one event per frame cost a dispatch each).
    if (now.length > 0) deliver(now.length === frames.length ? batch : now);
    if (head < queue.length) tick(0);
  };
  // The next piece's task is the reply to a request the host answers at once (`<doc>
  // now`): it comes in turn with the host's other replies, so a small answer that arrived
  // meanwhile is handed over first. (The other tasks an isolated world can post did worse,
  // measured: a MessageChannel's message takes 150-190 us a hop here, and with it a 64 MiB
  // download fell to 115 MB/s; window.postMessage's tasks (5-8 us) and timers run ahead of
  // the host's replies, so small answers still waited (4.1-5.7x idle with the first), and a
  // setTimeout chain is clamped to 4 ms from its fifth link (15 MB/s).) A piece held back
  // (below) asks again `after` a few ms, which the host answers from its own timer: the
  // page shares this world's timer ids, and its script could clear a timer of ours.
  let ticking = null; // the document whose tick is out (a restored page ticks anew)
  const tick = (after) => {
    if (ticking === doc) return;
    const id = doc;
    ticking = id;
    ask(after > 0 ? id + ' after ' + after : id + ' now').then(
      () => {
        if (ticking === id) ticking = null;
      },
      (e) => {
        if (ticking === id) ticking = null;
        const batch = framesOf(e);
        if (batch === null || id !== doc) return;
        if (batch.length > 0) take(batch);
        piece();
      },
    );
  };
  // While the page waits for an answer it asked for less than __QUICK__ ms ago, bulk data
  // yields: one piece every __YIELD__ ms, so such answers find the page's thread free
  // instead of decoding and feeding a download (measured: a small GET during a 1 GiB read
  // took 2-3x idle, the host answering in under 0.1 ms and the page's queued download work
  // taking the rest; traced in the relay, a piece often ran in the same task as the answer,
  // before the page could send its next request). An answer slower than that (a long poll,
  // a slow handler) holds nothing back.
  let lastPiece = -Infinity;
  // An answer was handed over in this task: what the page does with it (often its next
  // request) runs in this task's microtasks, and no piece goes before that.
  let answeredNow = false;
  function justAnswered() {
    if (answeredNow) return;
    answeredNow = true;
    queueMicrotask(() => {
      answeredNow = false;
    });
  }
  const quickAnswerAwaited = (now) => {
    for (const at of asked.values()) if (now - at < __QUICK__) return true;
    return false;
  };
  const piece = () => {
    const now = performance.now();
    if (answeredNow || (now - lastPiece < __YIELD__ && quickAnswerAwaited(now))) {
      // Ask again later (if `take` just started a tick, that one asks again instead).
      tick(answeredNow ? 1 : Math.max(1, Math.ceil(__YIELD__ - (now - lastPiece))));
      return;
    }
    lastPiece = now;
    const frames = [];
    let chars = 0;
    // Nobody waits any more: the rest goes whole.
    const budget = busy() ? __PIECE__ : Infinity;
    while (head < queue.length && (chars === 0 || chars + size(queue[head][1]) <= budget)) {
      const [stream, frame] = queue[head];
      queue[head++] = undefined;
      const left = queued.get(stream) - 1;
      if (left === 0) queued.delete(stream);
      else queued.set(stream, left);
      frames.push(frame);
      chars += size(frame) + 1;
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else {
      tick(0);
    }
    if (frames.length > 0) deliver(frames);
  };
  const start = () => {
    if (token === null) {
      wantOpen = true; // when the host's token comes
      return;
    }
    const proof = token;
    token = null; // one session per commit
    viaSocket = wire !== null && wire(0) === true && wire(4, onWire) === true;
    opening = viaSocket ? proof : null;
    loop(doc, doc + ' open ' + proof);
    loop(doc, doc);
    loop(doc, doc);
    opened = true;
    // What the page sent before: in order, behind the open.
    drain();
  };
  // The upload carrier: the page transfers a body's ArrayBuffer through this port with the
  // id of a stream it opened; this world (which page script cannot reach, so cannot make
  // send a Blob or learn the secret) POSTs the bytes to the scheme for that stream, then
  // transfers the buffer back (the shim keeps a body it may send again on a redirect).
  const carrier = new MessageChannel();
  const offer = () => document.dispatchEvent(new MessageEvent(__PORT_EVENT__, { ports: [carrier.port1] }));
  document.addEventListener(__HELLO_EVENT__, offer);
  // Bodies the socket carried, whose buffers JavaScriptCore pinned when the extension read
  // them (a pinned buffer cannot be transferred): given back only when the page asks (a
  // redirect sends the body again), as a copy; let go when it says it is done, or past
  // __KEPT__ bytes, the oldest first.
  const kept = new Map(); // id -> ArrayBuffer
  let keptBytes = 0;
  let lastKept = 0;
  const keep = (body) => {
    const id = ++lastKept;
    kept.set(id, body);
    keptBytes += body.byteLength;
    for (const [old, b] of kept) {
      if (keptBytes <= __KEPT__ || old === id) break;
      kept.delete(old);
      keptBytes -= b.byteLength;
    }
    return id;
  };
  // Buffers the socket carried bodies from (`slabs`, above), free for the next: up to
  // __SLABS__ bytes, let go once __SLAB_IDLE__ ms passed without an upload. Every upload's
  // copy in fresh memory cost the page more than the copy itself: the kernel's page faults,
  // and the freeing after (issue 16: a 16 MiB upload took 18-25 ms where a warm one took
  // 7-10).
  const takeSlab = (n) => {
    dropIdleSlabs();
    slabUsed = performance.now();
    let best = -1;
    for (let i = 0; i < slabs.length; i++) {
      const size = slabs[i].byteLength;
      if (size >= n && size <= 2 * n && (best < 0 || size < slabs[best].byteLength)) best = i;
    }
    if (best < 0) return new Uint8Array(n);
    const buffer = slabs[best];
    slabs.splice(best, 1);
    slabBytes -= buffer.byteLength;
    return new Uint8Array(buffer, 0, n);
  };
  const putSlab = (view) => {
    const buffer = view.buffer;
    slabs.push(buffer);
    slabBytes += buffer.byteLength;
    while (slabBytes > __SLABS__) slabBytes -= slabs.shift().byteLength;
    slabUsed = performance.now();
  };
  const letGo = (id) => {
    const body = kept.get(id);
    if (body === undefined) return undefined;
    kept.delete(id);
    keptBytes -= body.byteLength;
    return body;
  };
  carrier.port2.onmessage = (event) => {
    const d = event.data;
    if (d === null || typeof d !== 'object') return;
    if (typeof d.again === 'number') {
      const body = letGo(d.again);
      carrier.port2.postMessage({ again: d.again, returned: body === undefined ? null : body });
      return;
    }
    if (typeof d.release === 'number') {
      letGo(d.release);
      return;
    }
    const stream = d.stream;
    const body = d.body;
    if (typeof stream !== 'number' || !(body instanceof ArrayBuffer)) return;
    const fail = (error) => carrier.port2.postMessage({ stream, error: String(error) });
    let given = false;
    const giveBack = () => {
      if (given) return;
      given = true;
      try {
        carrier.port2.postMessage({ stream, returned: body }, [body]);
      } catch (_) {
        // A buffer the extension's socket has read is pinned (see `kept`).
        carrier.port2.postMessage(body.byteLength > 0 && !body.detached ? { stream, kept: keep(body) } : { stream, returned: null });
      }
    };
    const forDoc = doc;
    const viaWire = () => {
      // Over what the host takes: refused here, not streamed to be dropped there.
      if (body.byteLength > __MAX_CARRY__) return Promise.reject({ message: 'a request body of ' + body.byteLength + ' bytes is over the carrier\'s ' + __MAX_CARRY__ });
      // A body up to __SLAB__ bytes goes from a buffer of this world's, which the socket
      // pins once and which is used again for the next body (see `slabs`); the page's
      // buffer, never pinned, goes back at once.
      const slab = body.byteLength <= __SLAB__ ? takeSlab(body.byteLength) : null;
      if (slab !== null) {
        slab.set(new Uint8Array(body));
        giveBack();
      }
      const id = wire(3, forDoc + ' ' + stream, slab ?? new Uint8Array(body));
      if (id === false) {
        queueMicrotask(lose); // the socket failed
        return Promise.reject({ message: 'the socket to the host closed' });
      }
      if (typeof id !== 'number') return Promise.reject({ message: 'the socket carrier did not take the body' });
      // Used again only once the host has read all of it (a refusal can come while the
      // extension still writes from it).
      return answerOf(id).then(() => { if (slab !== null) putSlab(slab); });
    };
    const carry = () => viaSocket ? viaWire().then(() => {}, (e) => fail(e.message)).finally(giveBack) : fetch(__CARRIER_URL__ + '?doc=' + encodeURIComponent(forDoc) + '&stream=' + stream + '&len=' + body.byteLength, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { [__CARRIER_HEADER__]: __SECRET__ },
      cache: 'no-store',
    }).then((r) => { if (!r.ok) return r.text().then((t) => fail('HTTP ' + r.status + ': ' + t)); }, fail).finally(giveBack);
    if (held.length > 0) afterHeld.push(carry);
    else carry();
  };
  offer();
  // A new session for this document, the shim told that its open requests are gone: after
  // a restore from the back/forward cache, and when the host refused the token this relay
  // showed (an older commit's; the frames sent since went to a session that does not exist).
  function reset() {
    // Frames of the old session still queued here are for streams the reset ends.
    queue.length = 0;
    head = 0;
    queued.clear();
    asked.clear();
    answering.clear();
    // Messages held for the old session are for streams the reset ends (their bodies'
    // requests go, and are refused: their streams are gone).
    held.length = 0;
    unread = 0;
    kept.clear();
    keptBytes = 0;
    acking = false;
    carryHeld();
    doc = newId();
    // A new session needs the token of the newest commit (it may have come already).
    opened = false;
    start();
    document.dispatchEvent(new CustomEvent(__RESET__));
  }
  addEventListener('pageshow', (event) => {
    if (!event.isTrusted || !event.persisted) return; // page script can dispatch a pageshow
    reset();
  });
  start();
})();"#;

thread_local! {
    /// Leaked on purpose, so nothing in it is dropped by a thread-local destructor at
    /// exit: WebKit and JavaScriptCore objects finalised then abort in libpas (seen in
    /// the WebKit tests). Hosts leave it through [`remove`], which drops normally.
    static HOSTS: &'static RefCell<HashMap<u64, HostChannel>> = Box::leak(Box::default());
}

struct HostChannel {
    /// The current document, if its relay has said hello.
    current: Option<Document>,
    /// The token the last commit of this host's view put in its isolated world, until a
    /// relay opens a session with it (see RELAY's `commit`).
    token: Option<String>,
}

/// One document's session and the way back to it.
struct Document {
    id: String,
    session: Arc<Session>,
    outbox: Arc<Mutex<Outbox>>,
    /// The relay's outstanding requests for frames, oldest first.
    waiting: VecDeque<Reply>,
    /// Request bodies that came by the carrier, shared with the session's sink.
    carried: Arc<Carrier>,
    /// The web process extension's socket the session was opened over, if it was.
    socket: Option<u64>,
}

/// A document's carried bodies, and the way to its session from the session's sink.
#[derive(Default)]
struct Carrier {
    state: Mutex<Carried>,
    /// Set once the session exists (the sink is made before it).
    session: std::sync::OnceLock<std::sync::Weak<Session>>,
}

/// The carrier's side of a document's streams (see the module docs).
#[derive(Default)]
struct Carried {
    /// Streams whose head said a body follows and whose body has not started as frames:
    /// the ones a carried body may be for.
    expecting: HashSet<u32>,
    /// Carried bodies being fed to their stream, by stream id.
    feeding: HashMap<u32, Feed>,
    /// The last few streams answered while they still expected a carried body (a handler
    /// may answer without reading its body: a redirect, a refusal). Their body, when it
    /// comes, is not needed: it is dropped unread, and the page keeps the answer it got,
    /// where a refusal could reach the page first and fail its request instead.
    answered: VecDeque<u32>,
}

/// How many answered streams [`Carried::answered`] remembers.
const ANSWERED_KEPT: usize = 64;

/// The part of a carried body not yet given to its stream, and the credit for it.
struct Feed {
    rest: Bytes,
    /// Bytes the stream accepts before the next `Credit` (the session's upload window at
    /// first, then what its `Credit` frames grant).
    allowed: u64,
    /// A thread is giving the stream its bytes: others only add credit (which it then
    /// uses), so the pieces go in order.
    busy: bool,
    /// `RequestEnd` was given; the entry stays until the stream ends, to keep its credit
    /// frames from the page.
    ended: bool,
}

/// Base64 frames for the page, queued by the session's sink (any thread) until the
/// relay's next request for them is answered (main thread).
#[derive(Default)]
struct Outbox {
    frames: Vec<Queued>,
    /// A main-loop callback to deliver them is already queued.
    scheduled: bool,
}

/// A frame waiting in the [`Outbox`].
struct Queued {
    stream: u32,
    /// A response body piece of more than [`BULK`] bytes: a big download's data, which the
    /// frames of other streams may pass (see [`take_frames`]).
    bulk: bool,
    /// The encoded frame.
    text: Payload,
}

/// An encoded frame for the page: base64 for a script message's reply, bytes for the
/// extension's socket (the relay hands them to the page as a `Uint8Array`).
#[derive(Debug, Clone, PartialEq)]
enum Payload {
    Text(String),
    Raw(Bytes),
}

impl Payload {
    /// Its size in base64 characters (what the reply budgets count).
    fn len(&self) -> usize {
        match self {
            Payload::Text(t) => t.len(),
            Payload::Raw(b) => b.len().div_ceil(3) * 4,
        }
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Payload {
        Payload::Text(text)
    }
}

impl Queued {
    fn new(frame: &Frame, text: Payload) -> Queued {
        Queued {
            stream: frame.stream(),
            bulk: matches!(
                frame,
                Frame::ResponseData { data, .. } | Frame::Response { data, .. } if data.len() > BULK
            ),
            text,
        }
    }
}

/// Base64 characters of queued bulk data the relay hands the page in one task while the
/// page waits for other answers (one 64 KiB data frame, as handlers commonly stream).
const PIECE: usize = 96 * 1024;

/// How long after its last answer the relay still treats the page as waiting for more
/// (milliseconds): a page that asks again at once must not get the whole backlog first.
const HOLD_MS: u32 = 50;

/// An answer the page has waited for less than this (milliseconds) is one it is about to
/// get: queued bulk data yields to it (see [`YIELD_MS`]).
const QUICK_MS: u32 = 5;

/// While the page waits for a quick answer, queued bulk data is handed over one piece per
/// this many milliseconds: a download slows while small requests run back to back (to
/// about a piece per 2 ms, 17-27 MB/s in the benchmark), but never stops.
const YIELD_MS: u32 = 2;

/// The base64 characters of the longest frame the host takes ([`MAX_FRAME`] bytes): the
/// relay drops longer ones, and the host does not decode them.
const MAX_FRAME_CHARS: usize = MAX_FRAME.div_ceil(3) * 4;

/// The most characters the relay puts in one message to the host (beyond a single frame).
const MAX_MESSAGE_CHARS: usize = 2 << 20;

/// Characters of frames the relay posts before it waits for the host to have read them (see
/// RELAY): what page script can make the host hold at once.
const IN_FLIGHT_CHARS: usize = 8 << 20;

/// Requests the relay remembers as waiting for an answer (see RELAY's `asked`).
const MAX_ASKED: usize = 4096;

/// The bytes of carried bodies the relay keeps for the page to ask again (see RELAY's
/// `kept`): a body larger than this is still kept, alone.
const KEPT_BYTES: usize = 64 << 20;

/// Bodies up to this size go over the socket from the relay's own buffers, kept for the
/// next body up to this many bytes in all (see RELAY's `slabs`); larger ones from the
/// page's buffer, pinned (see `kept`).
const SLAB_BYTES: usize = 64 << 20;

/// How long the relay keeps its free body buffers without an upload (milliseconds): they
/// are let go at its first message to the host after that (it sets no timers).
const SLAB_IDLE_MS: u32 = 10_000;

/// The longest a relay's `after` tick waits (milliseconds).
const TICK_AFTER_MAX_MS: u32 = 50;

/// Response data above this size is bulk: the page's main thread spends a while on each
/// such frame (decoding it, feeding its stream), so a small answer queued behind it waits.
const BULK: usize = 16 * 1024;

/// Installs the handlers and the relay on `webview` (GTK main thread only).
pub(crate) fn install(
    host_id: u64,
    webview: &webkit2gtk::WebView,
    bus: BusHandle,
    origin: &str,
    inline: bool,
    secret: &str,
) -> Result<(), HostError> {
    let manager = webview
        .user_content_manager()
        .ok_or(HostError::FrameChannel(
            "the WebView has no user content manager",
        ))?;
    if !manager.register_script_message_handler_in_world(HANDLER, WORLD) {
        return Err(HostError::FrameChannel(
            "its message handlers are already registered (is a host already attached to this WebView?)",
        ));
    }
    if !manager.register_script_message_handler_with_reply(PULL, WORLD) {
        manager.unregister_script_message_handler_in_world(HANDLER, WORLD);
        return Err(HostError::FrameChannel(
            "its message handler with reply cannot be registered (is a host already attached to this WebView?)",
        ));
    }
    let relay = RELAY
        .replace("__ORIGIN__", &js_string(origin))
        .replace("__HANDLER__", &js_string(HANDLER))
        .replace("__PULL__", &js_string(PULL))
        .replace("__MARK__", &js_string(MARK))
        .replace("__REFUSED__", &js_string(REFUSED))
        .replace("__OUT__", &js_string(OUT_EVENT))
        .replace("__IN__", &js_string(IN_EVENT))
        .replace("__RESET__", &js_string(RESET_EVENT))
        .replace("__PORT_EVENT__", &js_string(PORT_EVENT))
        .replace("__HELLO_EVENT__", &js_string(HELLO_EVENT))
        .replace(
            "__CARRIER_URL__",
            &js_string(&format!("{origin}{CARRIER_PATH}")),
        )
        .replace("__CARRIER_HEADER__", &js_string(CARRIER_HEADER))
        .replace("__SECRET__", &js_string(secret))
        .replace("__PIECE__", &PIECE.to_string())
        // Base64 characters of a frame with BULK bytes of data.
        .replace("__BULK__", &(BULK * 4 / 3).to_string())
        .replace("__HOLD__", &HOLD_MS.to_string())
        .replace("__QUICK__", &QUICK_MS.to_string())
        .replace("__YIELD__", &YIELD_MS.to_string())
        .replace("__MAX_FRAME_CHARS__", &MAX_FRAME_CHARS.to_string())
        .replace("__MAX_MESSAGE__", &MAX_MESSAGE_CHARS.to_string())
        .replace("__IN_FLIGHT__", &IN_FLIGHT_CHARS.to_string())
        .replace("__MAX_ASKED__", &MAX_ASKED.to_string())
        .replace("__COMMIT__", &js_string(COMMIT_GLOBAL))
        .replace("__PENDING__", &js_string(PENDING_GLOBAL))
        .replace("__WIRE__", &js_string(WIRE_GLOBAL))
        .replace("__KEPT__", &KEPT_BYTES.to_string())
        .replace("__SLABS__", &SLAB_BYTES.to_string())
        .replace("__SLAB_IDLE__", &SLAB_IDLE_MS.to_string())
        .replace("__SLAB__", &SLAB_BYTES.to_string())
        .replace("__MAX_CARRY__", &socket::MAX_CARRY.to_string());
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
                current: None,
                token: None,
            },
        )
    });
    // A new document ends the old one's session when it commits, so its streams stop: a
    // page of another origin (or about:blank, or one of the app's URL served sandboxed) has
    // no relay to replace it.
    //
    // The new document gets a fresh token in the relay's world, which its relay must show to
    // open a session: a commit of this view is the proof that a relay is this view's (a
    // related view's relay, a popup's, posts to the same handlers).
    //
    // Every commit gets a token, whatever its URL: the view's URI at this point can be a
    // load the app asked for that is still pending, not the document that committed (a
    // review found), and a token in a document without a relay (a foreign one) is never
    // used: it lives in the isolated world, which that document's script cannot read.
    webview.connect_load_changed(move |view, event| {
        if event != webkit2gtk::LoadEvent::Committed {
            return;
        }
        HOSTS.with(|h| {
            if let Some(host) = h.borrow_mut().get_mut(&host_id) {
                // The old document is gone, whatever the new one is (one of the app's URL
                // may not be the app: a page served with a CSP `sandbox` runs no relay).
                // Dropping it drops its session (cancelling its streams) and its waiting
                // replies. The new document's relay opens its own with the token, which
                // exists only from here on.
                host.current = None;
            }
        });
        give_token(host_id, view);
    });
    manager.connect_script_message_received(Some(HANDLER), move |_, result| {
        if let Some(value) = result.js_value() {
            on_frame(host_id, value.to_str().as_str());
        }
    });
    let origin = origin.to_owned();
    {
        let (bus, origin) = (bus.clone(), origin.clone());
        let weak = webview.downgrade();
        socket::serve(
            webview,
            socket::Handlers {
                dispatch: Box::new(move |incoming| match incoming {
                    socket::Incoming::Frames(text) => on_frame(host_id, &text),
                    socket::Incoming::Ask(answer, text) => {
                        on_pull(host_id, &bus, &origin, inline, &text, Reply::Socket(answer))
                    }
                    socket::Incoming::Carry(answer, header, body) => {
                        let taken = match carry_target(&header) {
                            Some((doc, stream)) => carry(host_id, doc, stream, body),
                            None => Err(format!(
                                "a carried body for {header:?}, which names no stream"
                            )),
                        };
                        // Taken: the answer, dropped, resolves the relay's promise.
                        if let Err(why) = taken {
                            answer.send_text(why);
                        }
                    }
                }),
                wanted: Box::new(move |header| match carry_target(header) {
                    Some((doc, stream)) => expects_carried(host_id, doc, stream),
                    None => Err(format!(
                        "a carried body for {header:?}, which names no stream"
                    )),
                }),
                closed: Box::new(move |socket| {
                    let ended = HOSTS.with(|h| {
                        let mut hosts = h.borrow_mut();
                        let Some(host) = hosts.get_mut(&host_id) else {
                            return false;
                        };
                        if host.current.as_ref().and_then(|c| c.socket) != Some(socket) {
                            return false;
                        }
                        host.current = None;
                        true
                    });
                    // The relay's session ran over it: a new token lets the relay open
                    // another, over script messages.
                    if let (true, Some(view)) = (ended, weak.upgrade()) {
                        give_token(host_id, &view);
                    }
                }),
            },
        );
    }
    // webkit2gtk-rs does not bind this signal (its reply type is skipped): connect by name.
    manager.connect_local(
        &format!("script-message-with-reply-received::{PULL}"),
        false,
        move |args| {
            let value = args
                .get(1)
                .and_then(|v| v.get::<javascriptcore::Value>().ok());
            let reply = args
                .get(2)
                .and_then(ScriptReply::from_value)
                .map(Reply::Script);
            if let (Some(value), Some(reply)) = (value, reply) {
                on_pull(
                    host_id,
                    &bus,
                    &origin,
                    inline,
                    value.to_str().as_str(),
                    reply,
                );
            }
            // Handled: no other handler; the reply is answered now or kept for later.
            Some(true.to_value())
        },
    );
    Ok(())
}

/// Puts a fresh token in the relay's world of `view`, good for one session: on each commit
/// of this view, and when the socket the current session ran over is gone (the relay then
/// opens a new one over script messages).
fn give_token(host_id: u64, view: &webkit2gtk::WebView) {
    let token = match crate::random_hex() {
        Ok(token) => Some(token),
        Err(e) => {
            tracing::warn!("no random bytes for the page's session token: {e}");
            None
        }
    };
    HOSTS.with(|h| {
        if let Some(host) = h.borrow_mut().get_mut(&host_id) {
            host.token.clone_from(&token);
        }
    });
    if let Some(token) = token {
        // Either the relay has run (its `commit` takes it) or it has not yet (it finds it
        // at start).
        let script = format!(
            "typeof globalThis[{commit}] === 'function' ? globalThis[{commit}]({token}) : (globalThis[{pending}] = {token}); void 0",
            commit = js_string(COMMIT_GLOBAL),
            pending = js_string(PENDING_GLOBAL),
            token = js_string(&token),
        );
        view.evaluate_javascript(
            &script,
            Some(WORLD),
            None,
            None::<&gio::Cancellable>,
            |result| {
                if let Err(e) = result {
                    tracing::warn!("the session token did not reach the relay: {e}");
                }
            },
        );
    }
}

/// Forgets the host (its WebView is going away).
pub(crate) fn remove(host_id: u64) {
    HOSTS.with(|h| h.borrow_mut().remove(&host_id));
}

/// `"<doc> <base64 frame> <base64 frame>…"` from the relay: the frames the page sent in
/// one task, in order.
fn on_frame(host_id: u64, text: &str) {
    let Some((doc, payloads)) = text.split_once(' ') else {
        return;
    };
    let delivered = HOSTS.with(|h| {
        let hosts = h.borrow();
        let Some(current) = hosts.get(&host_id).and_then(|c| c.current.as_ref()) else {
            return false;
        };
        if current.id != doc {
            return false;
        }
        for payload in payloads.split(' ') {
            on_one_frame(current, payload);
        }
        true
    });
    if !delivered {
        tracing::debug!("frames from a document that is gone; dropped");
    }
}

fn on_one_frame(current: &Document, payload: &str) {
    if payload.len() > MAX_FRAME_CHARS {
        // The relay sends none: not decoded (a frame this long is refused anyway).
        tracing::debug!(
            "a frame of {} characters from the page; dropped",
            payload.len()
        );
        return;
    }
    match BASE64.decode(payload) {
        // Errors go back to the page as Error frames; nothing else to do here.
        Ok(bytes) => {
            let bytes = Bytes::from(bytes);
            match bus_core::protocol::decode(bytes.clone()) {
                Ok(frame) => {
                    track(&current.carried, &frame);
                    let _ = current.session.handle(frame);
                }
                // The session decodes it again and answers the page why it failed.
                Err(_) => {
                    let _ = current.session.receive(bytes);
                }
            }
        }
        Err(e) => tracing::debug!("frame that is not base64 from the page: {e}"),
    }
}

/// `"<doc> ack"` (has the host read what the relay posted? answered at once),
/// `"<doc> open"` (a new document), `"<doc>"` (its next request for frames), `"<doc> now"`
/// (the relay's clock for handing queued data to the page: answered at once) or
/// `"<doc> after <ms>"` (the same, answered that much later).
fn on_pull(host_id: u64, bus: &BusHandle, origin: &str, inline: bool, text: &str, reply: Reply) {
    let (doc, open_it, tick) = match text.split_once(' ') {
        Some((doc, rest)) if rest.starts_with("open") => {
            // Only with the token the last commit of this host's view gave its relay
            // (once): a related view's relay has none, and a replayed one is spent.
            let shown = rest.strip_prefix("open ");
            let valid = HOSTS.with(|h| {
                let mut hosts = h.borrow_mut();
                let Some(host) = hosts.get_mut(&host_id) else {
                    return false;
                };
                let valid = shown.is_some() && host.token.as_deref() == shown;
                if valid {
                    host.token = None;
                }
                valid
            });
            if !valid {
                tracing::debug!("refused a session without this view's commit token");
                // Said, not left unanswered: this view's own relay may hold a token an
                // earlier commit gave it (a duplicate commit signal, then a page the
                // back/forward cache restores, whose `pageshow` comes before the new token),
                // and waits for the next one.
                reply.send_text(REFUSED.to_owned());
                return;
            }
            (doc, true, None)
        }
        // The relay asks whether the host has read what it posted (see RELAY's `ack`):
        // messages are read in order, so by now it has. Answered at once, with no frames.
        Some((_, "ack")) => {
            send(Some(reply), &[]);
            return;
        }
        Some((doc, "now")) => (doc, false, Some(0)),
        // Answered in any case (a tick left unanswered would stop the relay's pieces).
        Some((doc, rest)) if rest.starts_with("after ") => (
            doc,
            false,
            Some(
                rest["after ".len()..]
                    .parse::<u32>()
                    .map_or(TICK_AFTER_MAX_MS, |ms| ms.min(TICK_AFTER_MAX_MS)),
            ),
        ),
        None => (text, false, None),
        Some(_) => {
            tracing::debug!("unknown relay request {text:?}");
            return;
        }
    };
    if open_it {
        let socket = match &reply {
            Reply::Socket(answer) => Some(answer.socket()),
            Reply::Script(_) => None,
        };
        open(host_id, bus, origin, doc, inline, socket);
    }
    HOSTS.with(|h| {
        let mut hosts = h.borrow_mut();
        let Some(current) = hosts.get_mut(&host_id).and_then(|c| c.current.as_mut()) else {
            return;
        };
        if current.id != doc {
            // A document that is gone: the unsent reply settles its promise with
            // `undefined`, which ends its relay's loop.
            return;
        }
        match tick {
            // The relay's clock for handing queued data over (see RELAY): answered at once,
            // with what is queued that is not bulk data (which the waiting requests carry).
            Some(0) => {
                let frames = take_frames(&current.outbox, false);
                send(Some(reply), &frames);
                return;
            }
            // The same, later; by then the document may be gone, and the reply, dropped,
            // settles with `undefined`.
            Some(ms) => {
                let doc = doc.to_owned();
                glib::timeout_add_local_once(Duration::from_millis(ms.into()), move || {
                    HOSTS.with(|h| {
                        let hosts = h.borrow();
                        if let Some(current) = hosts
                            .get(&host_id)
                            .and_then(|c| c.current.as_ref())
                            .filter(|c| c.id == doc)
                        {
                            send(Some(reply), &take_frames(&current.outbox, false));
                        }
                    });
                });
                return;
            }
            None => {}
        }
        current.waiting.push_back(reply);
        deliver(current);
    });
}

/// `"<doc> <stream>"`, a carried body's header.
fn carry_target(header: &str) -> Option<(&str, u32)> {
    let (doc, stream) = header.split_once(' ')?;
    Some((doc, stream.parse().ok()?))
}

/// What a frame from the page means for carried bodies: a head with a body to come makes
/// its stream one a carried body may be for; body frames, a cancel or a reused id end that.
fn track(carrier: &Carrier, frame: &Frame) {
    let mut carried = carrier.state.lock().unwrap_or_else(|e| e.into_inner());
    match frame {
        Frame::RequestHead {
            stream, end_stream, ..
        } => {
            carried.feeding.remove(stream);
            carried.answered.retain(|s| s != stream);
            if *end_stream {
                carried.expecting.remove(stream);
            } else {
                carried.expecting.insert(*stream);
            }
        }
        Frame::RequestData { stream, .. }
        | Frame::RequestEnd { stream }
        | Frame::Cancel { stream } => {
            carried.expecting.remove(stream);
            carried.feeding.remove(stream);
        }
        _ => {}
    }
}

/// The body of `stream` of document `doc`, carried by the relay's request to the scheme:
/// fed to the stream within its upload credit. Main thread.
///
/// # Errors
/// A sentence for the relay (which fails the page's request with it) when the document is
/// not the current one or the stream expects no carried body.
pub(crate) fn carry(host_id: u64, doc: &str, stream: u32, body: Bytes) -> Result<(), String> {
    if let Some((session, carrier)) = expecting(host_id, doc, stream, Some(body))? {
        feed(&session, &carrier, stream);
    }
    Ok(())
}

/// Whether `doc`'s session has `stream` open and expecting a carried body (`true`), or
/// answered while it expected one (`false`: the body is not needed): checked before a
/// carrier request's body is read, so a body no stream would take is refused unread.
pub(crate) fn expects_carried(host_id: u64, doc: &str, stream: u32) -> Result<bool, String> {
    expecting(host_id, doc, stream, None).map(|s| s.is_some())
}

/// A document's session and carrier, for a stream that expects a carried body.
type Expecting = (Arc<Session>, Arc<Carrier>);

/// `doc`'s session and carrier if it is the host's current document and `stream` expects a
/// carried body; `None` if it was answered while it expected one. With `body`, under the
/// same lock, the stream stops expecting one and starts feeding it.
fn expecting(
    host_id: u64,
    doc: &str,
    stream: u32,
    body: Option<Bytes>,
) -> Result<Option<Expecting>, String> {
    HOSTS.with(|h| {
        let hosts = h.borrow();
        let current = hosts
            .get(&host_id)
            .and_then(|c| c.current.as_ref())
            .filter(|c| c.id == doc)
            .ok_or_else(|| format!("document {doc:?} has no session (it was replaced)"))?;
        let mut carried = current
            .carried
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !carried.expecting.contains(&stream) {
            if carried.answered.contains(&stream) {
                return Ok(None);
            }
            return Err(format!(
                "stream {stream} is not open, or expects no carried body"
            ));
        }
        if let Some(rest) = body {
            carried.expecting.remove(&stream);
            carried.feeding.insert(
                stream,
                Feed {
                    rest,
                    allowed: u64::from(INITIAL_UPLOAD_WINDOW),
                    busy: false,
                    ended: false,
                },
            );
        }
        Ok(Some((current.session.clone(), current.carried.clone())))
    })
}

/// Gives `stream` as much of its carried body as its credit allows, and its end once all
/// of it is given; returns at once if another call is doing so. Any thread: the session
/// takes frames from any thread, and the lock is not held while it runs (its sink, which
/// may call this again, takes it).
fn feed(session: &Session, carrier: &Carrier, stream: u32) {
    let lock = || carrier.state.lock().unwrap_or_else(|e| e.into_inner());
    {
        let mut carried = lock();
        match carried.feeding.get_mut(&stream) {
            Some(f) if !f.busy && !f.ended => f.busy = true,
            _ => return,
        }
    }
    loop {
        let frame = {
            let mut carried = lock();
            let Some(f) = carried.feeding.get_mut(&stream) else {
                return;
            };
            if f.rest.is_empty() {
                f.ended = true;
                f.busy = false;
                Frame::RequestEnd { stream }
            } else if f.allowed == 0 {
                f.busy = false;
                return;
            } else {
                let n = (f.rest.len() as u64).min(f.allowed).min(MAX_DATA as u64) as usize;
                f.allowed -= n as u64;
                Frame::RequestData {
                    stream,
                    data: f.rest.split_to(n),
                }
            }
        };
        let end = matches!(frame, Frame::RequestEnd { .. });
        if session.handle(frame).is_err() {
            lock().feeding.remove(&stream);
            return;
        }
        if end {
            return;
        }
    }
}

/// A frame for the page, seen by the sink (any thread): upload credit for a carried body
/// is used here, at once, and not passed on (the page sent no frames to be credited for);
/// a stream's end forgets its carried body. Returns whether the frame stays here.
fn on_outbound(carrier: &Carrier, frame: &Frame) -> bool {
    let mut carried = carrier.state.lock().unwrap_or_else(|e| e.into_inner());
    match frame {
        Frame::Credit { stream, bytes } => {
            let Some(f) = carried.feeding.get_mut(stream) else {
                return false;
            };
            f.allowed += u64::from(*bytes);
            drop(carried);
            if let Some(session) = carrier.session.get().and_then(std::sync::Weak::upgrade) {
                feed(&session, carrier, *stream);
            }
            true
        }
        Frame::ResponseEnd { stream }
        | Frame::Response { stream, .. }
        | Frame::Error { stream, .. } => {
            if carried.expecting.remove(stream) {
                if carried.answered.len() == ANSWERED_KEPT {
                    carried.answered.pop_front();
                }
                carried.answered.push_back(*stream);
            }
            carried.feeding.remove(stream);
            false
        }
        _ => false,
    }
}

/// Opens `doc`'s session; over a `socket`, its frames go to the page as bytes.
fn open(host_id: u64, bus: &BusHandle, origin: &str, doc: &str, inline: bool, socket: Option<u64>) {
    let binary = socket.is_some();
    // The relay only runs in the top frame of our own origin: that is what the isolated
    // world guarantees, so this is the caller the session stamps on every request.
    let caller = Caller::new(Transport::Frames)
        .with_origin(origin)
        .with_frame(FrameKind::Main);
    let outbox = Arc::new(Mutex::new(Outbox::default()));
    let sink_outbox = outbox.clone();
    let sink_doc = doc.to_owned();
    let carried = Arc::new(Carrier::default());
    let sink_carried = carried.clone();
    // Handlers first run on this (the main) thread, as on the scheme path: an answer ready
    // at once is queued for the page in the same main-loop turn.
    // A response complete at once goes as one frame (the shim decodes `Response`).
    let config = SessionConfig::new(caller)
        .inline_first_poll(inline)
        .whole_responses(true);
    let session = Session::new(bus, config, move |frame| {
        if on_outbound(&sink_carried, &frame) {
            return;
        }
        let bytes = bus_core::protocol::encode(&frame);
        let encoded = Queued::new(
            &frame,
            if binary {
                Payload::Raw(bytes)
            } else {
                Payload::Text(BASE64.encode(bytes))
            },
        );
        let schedule = {
            let mut outbox = sink_outbox.lock().unwrap_or_else(|e| e.into_inner());
            outbox.frames.push(encoded);
            !std::mem::replace(&mut outbox.scheduled, true)
        };
        if schedule {
            // Always deferred to the next main-loop turn (even when called on the main
            // thread), so frames queued meanwhile go in the same reply.
            let doc = sink_doc.clone();
            glib::idle_add_full(glib::Priority::DEFAULT, move || {
                flush(host_id, &doc);
                glib::ControlFlow::Break
            });
        }
    });
    let session = match session {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::warn!("cannot open a session for the page: {e}");
            return;
        }
    };
    let _ = carried.session.set(Arc::downgrade(&session));
    HOSTS.with(|h| {
        if let Some(host) = h.borrow_mut().get_mut(&host_id) {
            // Replacing the old document drops its session, which cancels its streams,
            // and its waiting reply, which ends its relay's loop.
            host.current = Some(Document {
                id: doc.to_owned(),
                session,
                outbox,
                waiting: VecDeque::new(),
                carried,
                socket,
            });
        }
    });
}

/// Answers the relay's waiting request with the queued frames (main thread).
fn flush(host_id: u64, doc: &str) {
    HOSTS.with(|h| {
        let mut hosts = h.borrow_mut();
        let Some(current) = hosts.get_mut(&host_id).and_then(|c| c.current.as_mut()) else {
            return;
        };
        if current.id != doc {
            return;
        }
        if current.waiting.is_empty() {
            // The relay is between requests: its next one takes the frames.
            current
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .scheduled = false;
            return;
        }
        deliver(current);
    });
}

/// Answers waiting requests with queued frames, at most [`MAX_REPLY`] per reply, while
/// both last. Frames left over wait for the relay's next request. The last waiting request
/// is never given only bulk data: it is kept for the next small answer, which then reaches
/// the page at once instead of after the page has asked again.
fn deliver(current: &mut Document) {
    while !current.waiting.is_empty() {
        let frames = take_frames(&current.outbox, current.waiting.len() > 1);
        if frames.is_empty() {
            return;
        }
        send(current.waiting.pop_front(), &frames);
    }
}

/// Base64 characters in one reply, beyond its first frame: a page given many streams'
/// windows at once dispatches them in several turns instead of one long one.
const MAX_REPLY: usize = 2 << 20;

/// The queued frames that fit in one reply.
///
/// When bulk data waits, the frames no bulk data of their own stream precedes go first, in
/// a reply of their own: a small answer reaches the page in its own task, not after the
/// page has decoded and fed a big download's queued data. Each stream's frames keep their
/// order (a stream's frames after its first bulk one stay behind with it).
fn take_frames(outbox: &Mutex<Outbox>, bulk_too: bool) -> Vec<Payload> {
    let mut outbox = outbox.lock().unwrap_or_else(|e| e.into_inner());
    outbox.scheduled = false;
    let frames = std::mem::take(&mut outbox.frames);
    let (taken, rest) = if frames.iter().any(|f| f.bulk) {
        let mut behind_bulk = HashSet::new(); // streams whose frames wait
        let mut chars = 0;
        let (urgent, rest): (Vec<_>, Vec<_>) = frames.into_iter().partition(|f| {
            let fits = chars == 0 || chars + f.text.len() < MAX_REPLY;
            if f.bulk || !fits || behind_bulk.contains(&f.stream) {
                // Its stream's later frames stay behind it.
                behind_bulk.insert(f.stream);
                return false;
            }
            chars += f.text.len() + 1;
            true
        });
        if urgent.is_empty() && bulk_too {
            in_order(rest, MAX_REPLY)
        } else {
            (urgent, rest)
        }
    } else {
        in_order(frames, MAX_REPLY)
    };
    outbox.frames = rest;
    taken.into_iter().map(|f| f.text).collect()
}

/// The first frames of `frames` that fit in `budget` characters (the first always does),
/// and the rest.
fn in_order(mut frames: Vec<Queued>, budget: usize) -> (Vec<Queued>, Vec<Queued>) {
    let mut chars = 0;
    let fit = frames
        .iter()
        .take_while(|f| {
            let first = chars == 0;
            chars += f.text.len() + 1;
            first || chars <= budget
        })
        .count();
    let rest = frames.split_off(fit);
    (frames, rest)
}

/// Settles the relay's request with `frames`: by a script message's reply, base64 separated
/// by spaces (base64 has none); by the socket, as bytes.
fn send(waiting: Option<Reply>, frames: &[Payload]) {
    let reply = match waiting {
        None => return,
        Some(Reply::Socket(answer)) => {
            let raw: Vec<Bytes> = frames
                .iter()
                .map(|f| match f {
                    Payload::Raw(b) => b.clone(),
                    // (A socket's session queues bytes; decoded here all the same.)
                    Payload::Text(t) => BASE64.decode(t).map(Bytes::from).unwrap_or_default(),
                })
                .collect();
            answer.send_frames(&raw);
            return;
        }
        Some(reply) => reply,
    };
    fn text(f: &Payload) -> std::borrow::Cow<'_, str> {
        match f {
            Payload::Text(t) => std::borrow::Cow::Borrowed(t.as_str()),
            Payload::Raw(b) => std::borrow::Cow::Owned(BASE64.encode(b)),
        }
    }
    let frames: Vec<_> = frames.iter().map(text).collect();
    let mut batch =
        String::with_capacity(MARK.len() + frames.iter().map(|f| f.len() + 1).sum::<usize>());
    batch.push_str(MARK);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            batch.push(' ');
        }
        batch.push_str(frame);
    }
    reply.send_text(batch);
}

/// A JS string literal for `s` (JSON is a subset of JS for strings).
use bus_shim::js_string;

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(sizes: &[usize]) -> Mutex<Outbox> {
        Mutex::new(Outbox {
            frames: sizes
                .iter()
                .map(|&n| Queued {
                    stream: 1,
                    bulk: false,
                    text: "A".repeat(n).into(),
                })
                .collect(),
            scheduled: true,
        })
    }

    impl From<&str> for Payload {
        fn from(text: &str) -> Payload {
            Payload::Text(text.to_owned())
        }
    }

    impl PartialEq<&str> for Payload {
        fn eq(&self, other: &&str) -> bool {
            *self == Payload::Text((*other).to_owned())
        }
    }

    fn lens(frames: &[Payload]) -> Vec<usize> {
        frames.iter().map(Payload::len).collect()
    }

    #[test]
    fn a_reply_takes_frames_in_order_up_to_its_budget() {
        let half = MAX_REPLY / 2;
        let o = outbox(&[10, half, half, 20]);
        // 10 + 1 + half + 1 fits; one more half does not.
        assert_eq!(lens(&take_frames(&o, true)), [10, half]);
        assert!(!o.lock().unwrap().scheduled);
        assert_eq!(lens(&take_frames(&o, true)), [half, 20]);
        assert!(take_frames(&o, true).is_empty());
    }

    #[test]
    fn small_answers_pass_bulk_data_and_each_stream_keeps_its_order() {
        let f = |stream: u32, bulk: bool, text: &str| Queued {
            stream,
            bulk,
            text: text.to_owned().into(),
        };
        let o = Mutex::new(Outbox {
            frames: vec![
                f(1, false, "h1"),
                f(1, true, "D1"),
                f(2, false, "h2"),
                f(1, false, "e1"), // behind stream 1's bulk data: stays behind
                f(2, false, "d2"),
                f(1, true, "D1b"),
                f(3, true, "D3"),
                f(2, false, "e2"),
                f(3, false, "e3"),
            ],
            scheduled: true,
        });
        assert_eq!(take_frames(&o, true), ["h1", "h2", "d2", "e2"]);
        assert_eq!(take_frames(&o, true), ["D1", "e1", "D1b", "D3", "e3"]);
        assert!(take_frames(&o, true).is_empty());
        // The last request the relay has outstanding gets no bulk data.
        let o = Mutex::new(Outbox {
            frames: vec![f(1, true, "D1"), f(1, false, "e1"), f(2, false, "h2")],
            scheduled: true,
        });
        assert_eq!(take_frames(&o, false), ["h2"]);
        assert!(take_frames(&o, false).is_empty());
        assert_eq!(take_frames(&o, true), ["D1", "e1"]);
        // Without bulk data, plain order.
        let o = Mutex::new(Outbox {
            frames: vec![f(1, false, "a"), f(2, false, "b"), f(1, false, "c")],
            scheduled: true,
        });
        assert_eq!(take_frames(&o, true), ["a", "b", "c"]);
    }

    #[test]
    fn a_small_answer_over_the_budget_keeps_its_streams_order() {
        let big = "A".repeat(MAX_REPLY);
        let o = Mutex::new(Outbox {
            frames: vec![
                Queued {
                    stream: 9,
                    bulk: true,
                    text: "D".into(),
                },
                Queued {
                    stream: 1,
                    bulk: false,
                    text: "x".into(),
                },
                Queued {
                    stream: 2,
                    bulk: false,
                    text: big.clone().into(),
                },
                Queued {
                    stream: 2,
                    bulk: false,
                    text: "y".into(),
                },
                Queued {
                    stream: 3,
                    bulk: false,
                    text: "z".into(),
                },
            ],
            scheduled: true,
        });
        // Stream 2's first frame is over what is left of the budget: its second waits too.
        assert_eq!(take_frames(&o, true), ["x", "z"]);
        assert_eq!(lens(&take_frames(&o, true)), [MAX_REPLY]);
        assert_eq!(take_frames(&o, true), ["y"]);
        assert_eq!(take_frames(&o, true), ["D"]);
        assert!(take_frames(&o, true).is_empty());
    }

    #[test]
    fn a_frame_larger_than_the_budget_still_goes_alone() {
        let o = outbox(&[MAX_REPLY * 2, 5]);
        assert_eq!(lens(&take_frames(&o, true)), [MAX_REPLY * 2]);
        assert_eq!(lens(&take_frames(&o, true)), [5]);
    }
}
