// A module worker of the app: its imports are relative to this file.
import './helper.js';
import './cases.js';
self.kind = 'module';
self.metaUrl = import.meta.url;
