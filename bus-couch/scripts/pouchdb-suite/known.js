// Test harness only: the tests of PouchDB 9.0.0's integration suite (full mocha titles)
// that bus-couch does not pass on purpose, each with its reason. scripts/pouchdb-suite.sh
// skips them (mocha counts them as pending); any other failure fails the run.
'use strict';

const JS_FILTER = 'a JavaScript filter function in a design document (filter=ddoc/name): ' +
  'bus-couch runs no JavaScript; it answers 400 naming filter=_selector/_doc_ids instead ' +
  '(and 404 when the design document or function is missing, as CouchDB)';
const VIEWS = 'map/reduce views (db.query, filter=_view): bus-couch has no views; ' +
  '_design/x/_view/y answers 501 not_implemented';
const VALIDATE = 'validate_doc_update in a design document (a JavaScript function run on ' +
  'every write): bus-couch runs no JavaScript and accepts the write';

module.exports = {
  'test.changes.js-http Changes limit and filter': JS_FILTER,
  'test.changes.js-http Changes with shorthand function name': JS_FILTER,
  'test.changes.js-http Changes limit and view instead of filter': VIEWS,
  'test.changes.js-http #3609 view option implies filter: _view': VIEWS,
  'test.design_docs.js-http Changes filter': JS_FILTER,
  'test.design_docs.js-http Basic views': VIEWS,
  'test.design_docs.js-http Concurrent queries': VIEWS,
  'suite2 test.replication.js-local-http Test _conflicts key': VIEWS +
    ' (the test reads the conflicts through a view on the remote)',
  'test.reserved.js-http-http test docs with reserved javascript ids': VIEWS +
    ' (the test queries a view after the reserved ids pass)',
  'test.reserved.js-http-local test docs with reserved javascript ids': VIEWS +
    ' (the test queries a view after the reserved ids pass)',
  'test.bulk_docs.js-http #2935 new_edits=false with single unauthorized': VALIDATE,
  'suite2 test.replication.js-local-http #2268 dont stop replication if single forbidden': VALIDATE,
  'suite2 test.replication.js-local-http #2268 dont stop replication if single unauth': VALIDATE,
  'suite2 test.replication.js-local-http #2268 dont stop replication if many unauth': VALIDATE,
  'suite2 test.replication.js-local-http #3171 Forbidden validate_doc_update error message': VALIDATE,
  'suite2 test.replication.js-local-http #3171 Unauthorized validate_doc_update error message': VALIDATE,
  'suite2 test.replication.js-local-http #3070 Doc IDs with validate_doc_update errors': VALIDATE,
  'suite2 test.replication.js-local-http #3606 - live replication with filtered ddoc': JS_FILTER,
  'suite2 test.replication.js-local-http #3606 - live repl with filtered ddoc+query_params': JS_FILTER,
  'suite2 test.replication.js-local-http #3543 replication with a ddoc filter': JS_FILTER,
  'suite2 test.replication.js-local-http #3578 replication with a ddoc filter w/ _deleted=true': JS_FILTER,
  'suite2 test.replication.js-local-http #3578 replication with a ddoc filter w/ remove()': JS_FILTER,
  'suite2 test.replication.js-local-http #3606 - live repl with view': VIEWS,
  'suite2 test.replication.js-http-http #2268 dont stop replication if single forbidden': VALIDATE,
  'suite2 test.replication.js-http-http #2268 dont stop replication if single unauth': VALIDATE,
  'suite2 test.replication.js-http-http #2268 dont stop replication if many unauth': VALIDATE,
  'suite2 test.replication.js-http-http #3171 Forbidden validate_doc_update error message': VALIDATE,
  'suite2 test.replication.js-http-http #3171 Unauthorized validate_doc_update error message': VALIDATE,
  'suite2 test.replication.js-http-http #3070 Doc IDs with validate_doc_update errors': VALIDATE,
  'suite2 test.replication.js-http-http #3606 - live replication with filtered ddoc': JS_FILTER,
  'suite2 test.replication.js-http-http #3606 - live repl with filtered ddoc+query_params': JS_FILTER,
  'suite2 test.replication.js-http-http #3543 replication with a ddoc filter': JS_FILTER,
  'suite2 test.replication.js-http-http #3578 replication with a ddoc filter w/ _deleted=true': JS_FILTER,
  'suite2 test.replication.js-http-http #3578 replication with a ddoc filter w/ remove()': JS_FILTER,
  'suite2 test.replication.js-http-http #3606 - live repl with view': VIEWS,
  'suite2 test.replication.js-http-http Test _conflicts key': VIEWS +
    ' (the test reads the conflicts through a view on the remote)',
  'suite2 test.replication.js-http-http doc count after multiple replications': VIEWS +
    ' (the test queries a view on the first database)',
  'suite2 test.replication.js-http-local doc count after multiple replications': VIEWS +
    ' (the test queries a view on the first database)',
  'suite2 test.replication.js-local-http #3270 triggers "denied" events': VALIDATE,
  'test.sync.js-local-http #3270 triggers "denied" events': VALIDATE,
  'test.sync.js-local-http #3270 triggers "denied" events, reverse direction': VALIDATE,
  'test.close.js-http should emit closed even when destroyed (async #2)':
    'flaky upstream and never reaches the server: it destroys and closes a local leveldb ' +
    'database named "testdb" whatever the suite\'s adapter; failed 1 run in 2 here with ' +
    'the server untouched, and passes alone',
};
