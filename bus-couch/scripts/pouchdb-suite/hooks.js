// Test harness only: loaded by mocha (--require) next to PouchDB's node.setup.js. Every
// test named in known.js is skipped (counted as pending) before it runs; its reason is
// printed in the summary. RUN_KNOWN=1 runs them too (to see that they still fail).
'use strict';

const known = require('./known.js');

exports.mochaHooks = {
  beforeEach() {
    const title = this.currentTest && this.currentTest.fullTitle();
    if (process.env.RUN_KNOWN !== '1' && title &&
        Object.prototype.hasOwnProperty.call(known, title)) {
      this.skip();
    }
  },
};
