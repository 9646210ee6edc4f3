// The notes app's page: PouchDB (npm, unmodified) keeps the notes in a local IndexedDB
// database and syncs it live with the Rust store (bus-couch) at /db/notes — every request
// of PouchDB's HTTP adapter is a fetch the bus shim carries to the host as frames.
const local = new PouchDB('notes');
const remote = new PouchDB(location.origin + '/db/notes');
const auto = new URLSearchParams(location.search).has('auto');
const $ = (id) => document.getElementById(id);
const urls = [];
const loadedAt = Date.now();

async function render() {
  const { rows } = await local.allDocs({ include_docs: true, attachments: true, binary: true });
  urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  const notes = rows.map((r) => r.doc).filter((d) => d.text).sort((a, b) => b.created - a.created);
  $('notes').replaceChildren(...notes.map((n) => {
    const card = document.createElement('div');
    card.className = 'note ' + (n.from === 'host' ? 'host' : 'page');
    const photo = n._attachments && n._attachments.photo;
    if (photo && photo.data) {
      const img = document.createElement('img');
      const url = URL.createObjectURL(photo.data);
      urls.push(url);
      img.src = url;
      card.append(img);
    }
    const text = document.createElement('div');
    text.textContent = n.text;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = (n.from === 'host' ? 'from the host' : 'from this page') + ' · ' + new Date(n.created).toLocaleTimeString();
    card.append(text, meta);
    return card;
  }));
  return notes;
}

function status(text) { $('status').textContent = text; }

async function addNote(text, photo) {
  const doc = { _id: 'page-' + Date.now() + '-' + Math.random().toString(36).slice(2, 8), text, from: 'page', created: Date.now() };
  if (photo) doc._attachments = { photo: { content_type: photo.type || 'image/png', data: photo } };
  await local.put(doc);
  return doc._id;
}

$('add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('photo').files[0];
  await addNote($('text').value, file || null);
  $('text').value = '';
  $('photo').value = '';
});

local.changes({ since: 'now', live: true }).on('change', () => render());
const sync = local.sync(remote, { live: true, retry: true })
  .on('change', (info) => status(`synced: ${info.direction} ${info.change.docs.length} note(s) at ${new Date().toLocaleTimeString()}`))
  .on('paused', (err) => status(err ? 'offline, retrying…' : 'in sync (live)'))
  .on('active', () => status('syncing…'))
  .on('error', (err) => status('sync error: ' + err));
render();

// --auto: add a note with a photo drawn on a canvas, wait for it to reach the store and for
// the host's notes to arrive here, then report to the host.
if (auto) (async () => {
  const canvas = document.createElement('canvas');
  canvas.width = 320; canvas.height = 200;
  const g = canvas.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 320, 200);
  grad.addColorStop(0, '#f6d365'); grad.addColorStop(1, '#fda085');
  g.fillStyle = grad; g.fillRect(0, 0, 320, 200);
  g.fillStyle = '#2d4a3e'; g.font = 'bold 28px sans-serif'; g.fillText('photo from the page', 20, 110);
  const photo = await new Promise((r) => canvas.toBlob(r, 'image/png'));
  const t0 = Date.now();
  const id = await addNote('A note with a photo, written in the page', photo);
  let stored = null;
  while (!stored) { stored = await remote.get(id).catch(() => null); if (!stored) await new Promise((r) => setTimeout(r, 20)); }
  const reached = Date.now() - t0;
  let hostNotes = [];
  while (hostNotes.length < 2) {
    await new Promise((r) => setTimeout(r, 200));
    hostNotes = (await render()).filter((n) => n.from === 'host' && n.created >= loadedAt);
  }
  const notes = await render();
  await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({
    ok: true, pageNote: id, reachedStoreMs: reached, photoBytes: photo.size,
    storedPhoto: stored._attachments && stored._attachments.photo && stored._attachments.photo.length,
    hostNotes: hostNotes.map((n) => n.text), shown: notes.length,
    adapter: local.adapter,
  }) });
})().catch((e) => fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: false, error: String(e && (e.stack || e)) }) }));
