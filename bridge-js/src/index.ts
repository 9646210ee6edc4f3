// Public entry point: the frame codec and the page-side stream client. The IIFE build
// exposes these as the global `InprocBusBridge`.
export * from './codec.js';
export * from './client.js';
