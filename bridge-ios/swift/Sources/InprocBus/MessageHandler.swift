import Foundation
import InprocBusFFI
import WebKit

/// The frame channel of the bridge-js shim: frames as base64 strings between the relay
/// script (in the bridge's own content world) and a bus session (`bus_ios_session_*`).
///
/// Registered in that content world only, so page scripts and iframes cannot see it; it
/// still answers only messages from the main frame whose `securityOrigin` is the app
/// origin. Each document opens its own session (`open <id>`); frames (`f <id> <base64>`)
/// go to the session of their document, and frames for the page are delivered in batches
/// with `callAsyncJavaScript` in the same content world, to that document only.
public final class InprocBusMessageHandler: NSObject, WKScriptMessageHandlerWithReply {
    private let bus: UInt64
    private let appOrigin: String
    private let world: WKContentWorld
    /// The current document's session (main thread only).
    private var current: FrameSession?
    /// The WKWebView this handler serves: the one given to `attach(_:)`, else the first whose
    /// document wrote to it (main thread only; weak, so the handler keeps no view alive). A
    /// popup's WKWebView (`createWebViewWith` must use the configuration WebKit passes, and
    /// with it this handler) is refused: an app page in it would otherwise replace this
    /// view's session.
    private weak var served: WKWebView?

    /// Longest base64 message accepted: a `BUS_IOS_MAX_FRAME` frame, encoded.
    private static let maxEncoded = (Int(BUS_IOS_MAX_FRAME) + 2) / 3 * 4

    /// - Parameters:
    ///   - bus: the app's bus handle.
    ///   - appOrigin: e.g. `app://localhost`.
    ///   - world: the content world the relay script and this handler live in.
    public init(bus: UInt64, appOrigin: String, world: WKContentWorld) {
        self.bus = bus
        self.appOrigin = appOrigin.lowercased()
        self.world = world
    }

    deinit {
        current?.close()
    }

    /// Binds the handler to `webView` (its only WKWebView), before its first load.
    public func attach(_ webView: WKWebView) {
        served = webView
    }

    /// Whether `webView` is the one this handler serves (the first to write, without
    /// `attach(_:)`).
    private func serves(_ webView: WKWebView) -> Bool {
        if served == nil {
            served = webView
        }
        return served === webView
    }

    /// Closes the current document's session (e.g. when the WebView goes away).
    public func close() {
        current?.close()
        current = nil
    }

    public func userContentController(
        _ userContentController: WKUserContentController,
        didReceive message: WKScriptMessage,
        replyHandler: @escaping (Any?, String?) -> Void
    ) {
        // Who sent it, as WebKit reports it: only our own top-level document.
        let sender = message.frameInfo.securityOrigin
        guard message.frameInfo.isMainFrame,
              origin(protocol: sender.protocol, host: sender.host, port: sender.port) == appOrigin,
              let webView = message.webView,
              serves(webView),
              let text = message.body as? String
        else {
            replyHandler(nil, "refused")
            return
        }
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        switch (parts.first.map(String.init) ?? "", parts.count) {
        case ("open", 2):
            replyHandler(open(document: String(parts[1]), webView: webView), nil)
        case ("f", 3):
            guard let session = current, session.document == parts[1] else {
                replyHandler(nil, "no session for this document")
                return
            }
            guard parts[2].utf8.count <= Self.maxEncoded,
                  let frame = Data(base64Encoded: String(parts[2]))
            else {
                replyHandler(nil, "not a base64 frame of at most BUS_IOS_MAX_FRAME bytes")
                return
            }
            let status = session.receive(frame)
            // REJECTED: the page was sent an Error frame saying why; nothing more to say.
            replyHandler(nil, status == BUS_IOS_OK || status == BUS_IOS_REJECTED
                ? nil : lastErrorMessage())
        default:
            replyHandler(nil, "unknown message")
        }
    }

    /// A new document says hello: its session replaces the previous document's.
    private func open(document: String, webView: WKWebView) -> Bool {
        current?.close()
        current = FrameSession(document: document, webView: webView, world: world) { [weak self] gone in
            if self?.current === gone {
                self?.current = nil
            }
            gone.close()
        }
        guard current!.open(bus: bus, appOrigin: appOrigin) else {
            current = nil
            return false
        }
        return true
    }
}

/// One document's session. Retained by the library (the callback's context) until
/// `on_release`.
private final class FrameSession {
    let document: String
    private weak var webView: WKWebView?
    private let world: WKContentWorld
    private let onGone: (FrameSession) -> Void
    /// The session handle; 0 when closed (main thread only).
    private var handle: UInt64 = 0
    /// Frames for the page waiting for the main thread (any thread, under `lock`).
    private let lock = NSLock()
    private var outbox: [String] = []
    private var scheduled = false

    init(document: String, webView: WKWebView, world: WKContentWorld,
         onGone: @escaping (FrameSession) -> Void) {
        self.document = document
        self.webView = webView
        self.world = world
        self.onGone = onGone
    }

    /// Opens the bus session for this document. The caller is what WebKit reported for
    /// the message (main frame, app origin), checked by the handler before this is called.
    func open(bus: UInt64, appOrigin: String) -> Bool {
        var arena = Arena()
        defer { arena.release() }
        let origin = arena.bytes(appOrigin)
        var caller = BusIosCaller(source: UInt32(BUS_IOS_CALLER_VERIFIED),
                                  origin: origin.pointer, origin_len: origin.count,
                                  frame: UInt32(BUS_IOS_FRAME_MAIN))
        let context = Unmanaged.passRetained(self).toOpaque()
        var callbacks = BusIosFrameCallbacks(context: context, on_frame: sessionOnFrame,
                                             on_release: sessionOnRelease)
        var opened: UInt64 = 0
        guard bus_ios_session_open(bus, &caller, &callbacks, &opened) == BUS_IOS_OK else {
            Unmanaged<FrameSession>.fromOpaque(context).release() // no callback will come
            return false
        }
        handle = opened
        return true
    }

    func receive(_ frame: Data) -> BusIosStatus {
        frame.withUnsafeBytes { bytes in
            bus_ios_session_receive(handle, bytes.bindMemory(to: UInt8.self).baseAddress,
                                    bytes.count)
        }
    }

    func close() {
        if handle != 0 {
            _ = bus_ios_session_close(handle)
            handle = 0
        }
    }

    /// From `on_frame`, on any thread: queue, and deliver once per main-loop turn.
    fileprivate func enqueue(_ frame: Data) {
        lock.lock()
        outbox.append(frame.base64EncodedString())
        let schedule = !scheduled
        scheduled = true
        lock.unlock()
        if schedule {
            DispatchQueue.main.async { self.flush() }
        }
    }

    private func flush() {
        lock.lock()
        let frames = outbox
        outbox = []
        scheduled = false
        lock.unlock()
        guard handle != 0, let webView else { return }
        // Arguments travel as values (no script text is built from them); the relay
        // delivers only if `document` is still the document it runs in.
        webView.callAsyncJavaScript(
            "return globalThis.__inprocBusRelay ? globalThis.__inprocBusRelay.deliver(doc, frames) : false",
            arguments: ["doc": document, "frames": frames],
            in: nil,
            in: world
        ) { [weak self] result in
            guard let self else { return }
            if case .success(let delivered) = result, (delivered as? Bool) == true { return }
            // The document is gone (navigated away, or reloaded): so is its session.
            self.onGone(self)
        }
    }
}

private let sessionOnFrame: BusIosOnFrame = { context, frame, count in
    let session = Unmanaged<FrameSession>.fromOpaque(context!).takeUnretainedValue()
    session.enqueue(Data(bytes: frame!, count: count))
}

private let sessionOnRelease: BusIosOnRelease = { context in
    Unmanaged<FrameSession>.fromOpaque(context!).release()
}
