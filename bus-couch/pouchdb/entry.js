// PouchDB 9 (pouchdb-browser from npm, unmodified) for pages served from the bus.
//
// PouchDB picks a database's adapter from its URL's scheme and keeps the full URL only
// for http and https: `new PouchDB('app://localhost/db/notes')` would look for an adapter
// named "app". On a custom app scheme, register PouchDB's own HTTP adapter under that name,
// handing it the URL back. Its requests then go through the page's fetch, which the bus
// shim carries to the Rust backend as frames.
import PouchDB from 'pouchdb-browser';

const scheme = typeof location !== 'undefined' ? location.protocol.replace(/:$/, '') : '';
if (scheme && !/^https?$/.test(scheme) && !PouchDB.adapters[scheme]) {
  const Http = PouchDB.adapters.http;
  function AppSchemePouch(opts, callback) {
    Http.call(this, Object.assign({}, opts, { name: scheme + '://' + opts.name }), callback);
  }
  AppSchemePouch.valid = () => true;
  PouchDB.adapter(scheme, AppSchemePouch, false);
}

window.PouchDB = PouchDB;
