// Shared by the demo pages: the nav bar, and a report to the host when a page is done
// (the host prints it, and in --auto mode moves on to the next page).
function nav(here) {
  const pages = [['index.html', 'Home'], ['gallery.html', 'Gallery'], ['movie.html', 'Movie'], ['upload.html', 'Upload'], ['live.html', 'Live'], ['chat.html', 'Chat']];
  const links = pages.map(([href, label]) => `<a href="${href}"${href === here ? ' class="here"' : ''}>${label}</a>`).join('');
  const shim = window.InprocBusBridge ? 'bus shim installed' : 'no shim';
  document.querySelector('header').innerHTML = `<h1>In-process HTTP bus</h1><nav>${links}</nav><span class="badge">no socket · ${location.origin} · ${shim}</span>`;
}
async function done(page, lines) {
  await fetch('/api/demo-report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ page, lines }) });
}
