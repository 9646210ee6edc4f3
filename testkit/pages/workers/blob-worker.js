// The source of the worker the page makes from a blob: URL (it fetches this text): a blob
// has no URL to resolve relative ones against, so absolute URLs here.
self.kind = 'blob';
importScripts(self.origin + '/wk-pages/helper.js', self.origin + '/wk-pages/cases.js');
