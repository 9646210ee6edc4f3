// A classic worker of the app: its helper by a relative importScripts.
self.kind = 'classic';
importScripts('helper.js', 'cases.js');
