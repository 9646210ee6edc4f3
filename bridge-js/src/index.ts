// Public entry point: the frame codec, the stream client, the string transports and the
// fetch/XHR/EventSource shim. The IIFE build exposes these as the global `InprocBusBridge`.
export * from './codec.js';
export * from './client.js';
export { toBase64, fromBase64, fallbackToBase64, fallbackFromBase64 } from './base64.js';
export * from './transports.js';
export {
  install,
  installation,
  INSTALLATION,
  type Installation,
  type InstallOptions,
  type Route,
  type RouteChoice,
  type RouteInfo,
} from './shim.js';
export type { CookieOptions } from './cookies.js';
export { EventStreamParser } from './eventsource.js';
export {
  WsRecordDecoder,
  WsRecordError,
  decodeWsMessage,
  encodeWsMessage,
  wsRecordHeader,
  busOriginForWebSocket,
  type WsMessage,
} from './websocket.js';
export { multipartBlob } from './body.js';
export {
  upgradeMedia,
  fetchRange,
  webmMimeType,
  findCluster,
  clusterTimecode,
  type MediaOptions,
  type RangePiece,
  type RangeFetcher,
} from './media.js';
export { installInWorker, runWorkerScript, wrapWorkers, bundleSource, type WorkerConfig, type WorkerContext } from './workers.js';
export { interceptForms, type FormMode, type FormContext } from './forms.js';
export { installDocumentCookie, documentCookie, applyWrite, pathMatches, COOKIE_PATH, MIRROR_HEADER, type MirrorEntry } from './cookies.js';
