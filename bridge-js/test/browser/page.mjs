// The page of run.mjs: the shim over an in-page scripted bus (real frames, the reference
// /conf routes) against Chromium's own fetch/XHR/EventSource on the Node server.
import { install } from '../../dist/bus-bridge.mjs';
import { compare, runConformance } from '../../dist/conformance.mjs';
import { BusPeer } from '../support/bus-peer.mjs';
import { confRoutes } from '../support/conf-routes.mjs';

(async () => {
  const out = {};
  try {
    const q = new URLSearchParams(location.search);
    const only = q.get('only')?.split(',');
    const peer = new BusPeer(confRoutes().handler);
    if (q.has('tasks')) {
      // Each frame from the bus in a task of its own, as the hosts' bridges deliver them
      // (a reply to a message handler, an evaluateJavascript): frames then wait behind a
      // long task, as they do in a WebView.
      const transport = peer.transport;
      const send = transport.send;
      let deliver = null;
      Object.defineProperty(transport, 'onmessage', {
        configurable: true,
        get: () => deliver && ((bytes) => setTimeout(() => deliver(bytes), 0)),
        set: (f) => (deliver = f),
      });
      transport.send = send;
    }
    // The "bus origin" here is one no network request could ever reach.
    install({ origins: ['http://bus.invalid'], transport: peer.transport, pageOrigins: false });
    out.a = await runConformance({ base: 'http://bus.invalid', useShim: true, timeoutMs: 8000, only });
    // With ?cross, the reference is cross-origin for the page, as it is in the hosts.
    const base = q.has('cross') ? location.origin.replace('127.0.0.1', 'localhost') : location.origin;
    out.b = await runConformance({ base, useShim: false, timeoutMs: 8000, only });
    out.diffs = compare(out.a, out.b);
  } catch (e) {
    out.error = String((e && e.stack) || e);
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(out) });
})();
