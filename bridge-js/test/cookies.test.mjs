// document.cookie's mirror: path matching, order, expiry and writes as a browser stores them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyWrite, documentCookie, pathMatches } from '../dist/bus-bridge.mjs';

test('path-match follows RFC 6265 5.1.4', () => {
  assert.ok(pathMatches('/', '/a/b'));
  assert.ok(pathMatches('/a', '/a/b'));
  assert.ok(pathMatches('/a/', '/a/b'));
  assert.ok(pathMatches('/a', '/a'));
  assert.ok(!pathMatches('/a', '/ab'));
  assert.ok(!pathMatches('/a/b', '/a'));
});

test('document.cookie: longer paths first, then the mirror order; HttpOnly and expired never shown', () => {
  const now = 1_000_000;
  const mirror = [
    { n: 'b', v: '1', p: '/', e: null },
    { n: 'sid', p: '/', h: true },
    { n: 'deep', v: '2', p: '/app', e: null },
    { n: 'old', v: '3', p: '/', e: now - 1 },
    { n: 'a', v: '4', p: '/', e: now + 1 },
  ];
  assert.equal(documentCookie(mirror, '/app/page', now), 'deep=2; b=1; a=4');
  assert.equal(documentCookie(mirror, '/other', now), 'b=1; a=4');
});

test('writes: default path, replace in place, Max-Age and Expires delete, HttpOnly refused', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  let m = applyWrite([], 'x=1', '/app/page', now);
  assert.deepEqual(m, [{ n: 'x', v: '1', p: '/app', e: null }]);
  m = applyWrite(m, 'y=2; path=/', '/app/page', now);
  m = applyWrite(m, 'x=3', '/app/other', now);
  assert.equal(documentCookie(m, '/app/page', now), 'x=3; y=2');
  m = applyWrite(m, 'short=1; Max-Age=1; path=/', '/', now);
  assert.equal(documentCookie(m, '/', now + 500), 'y=2; short=1');
  assert.equal(documentCookie(m, '/', now + 1500), 'y=2');
  m = applyWrite(m, 'y=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/', '/', now);
  assert.equal(documentCookie(m, '/app/page', now), 'x=3; short=1');
  assert.deepEqual(applyWrite(m, 'h=1; HttpOnly', '/', now), m);
  const withSession = [{ n: 'sid', p: '/', h: true }];
  assert.deepEqual(applyWrite(withSession, 'sid=forged; path=/', '/', now), withSession);
});
