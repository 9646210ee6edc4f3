// Test harness only. PouchDB's tests/integration/utils.js takes its helpers from the
// monorepo's unpublished `pouchdb-for-coverage` package; this builds the same object
// (upstream packages/node_modules/pouchdb-for-coverage/src/{index,utils,errors}.js at
// the pinned commit) from the published 9.0.0 packages, so the suite runs without
// building the monorepo.
'use strict';

const pouchUtils = require('pouchdb-utils');
const merge = require('pouchdb-merge');
const binary = require('pouchdb-binary-utils');
const mapReduceUtils = require('pouchdb-mapreduce-utils');
const errors = require('pouchdb-errors');

const utils = {
  blob: binary.blob,
  parseUri: pouchUtils.parseUri,
  uuid: pouchUtils.uuid,
  rev: pouchUtils.rev,
  atob: binary.atob,
  btoa: binary.btoa,
  binaryStringToBlobOrBuffer: binary.binaryStringToBlobOrBuffer,
  clone: pouchUtils.clone,
  createError: errors.createError,
  generateErrorFromResponse: errors.generateErrorFromResponse,
  generateReplicationId: require('pouchdb-generate-replication-id'),
  parseDdocFunctionName: pouchUtils.parseDdocFunctionName,
  normalizeDdocFunctionName: pouchUtils.normalizeDdocFunctionName,
  once: pouchUtils.once,
  merge: merge.merge,
  winningRev: merge.winningRev,
  upsert: pouchUtils.upsert,
  toPromise: pouchUtils.toPromise,
  checkpointer: require('pouchdb-checkpointer'),
  defaultBackOff: pouchUtils.defaultBackOff,
  assign: Object.assign,
  mapReduceUtils: {
    uniq: mapReduceUtils.uniq,
    sequentialize: mapReduceUtils.sequentialize,
    fin: mapReduceUtils.fin,
    callbackify: mapReduceUtils.callbackify,
    promisedCallback: mapReduceUtils.promisedCallback,
  },
};

const Errors = {};
for (const name of ['UNAUTHORIZED', 'MISSING_BULK_DOCS', 'MISSING_DOC', 'REV_CONFLICT',
  'INVALID_ID', 'MISSING_ID', 'RESERVED_ID', 'NOT_OPEN', 'UNKNOWN_ERROR', 'BAD_ARG',
  'INVALID_REQUEST', 'QUERY_PARSE_ERROR', 'DOC_VALIDATION', 'BAD_REQUEST', 'NOT_AN_OBJECT',
  'DB_MISSING', 'WSQ_ERROR', 'LDB_ERROR', 'FORBIDDEN', 'INVALID_REV', 'FILE_EXISTS',
  'MISSING_STUB', 'IDB_ERROR', 'INVALID_URL']) {
  Errors[name] = errors[name];
}

// Upstream's is a second PouchDB build; utils.js uses only its `utils`, `Errors` and
// `ajax` (undefined there too), so this exports those and leaves the suite's global
// PouchDB (packages/node_modules/pouchdb, npm's pouchdb 9.0.0) as it is.
module.exports = { utils, Errors, collate: require('pouchdb-collate'), ajax: undefined };
