import Foundation
import InprocBusFFI
import WebKit

/// Serves the app's scheme (`app://…`) from the bus: navigations, subresources and the
/// engine's own fetch/XHR, with their bodies from `httpBody` or `httpBodyStream`.
///
/// Each `WKURLSchemeTask` becomes a bus request (`bus_ios_request_start`). Its body is
/// pumped in chunks on a thread of its own; its response is streamed back with one
/// `didReceive(_:)` per chunk, and credit for a chunk is granted only after WebKit has
/// taken it on the main thread, so a busy main thread holds the producer back.
/// `webView(_:stop:)` cancels the request. Every task call happens on the main thread, and
/// none after the task was stopped.
public final class InprocBusSchemeHandler: NSObject, WKURLSchemeHandler {
    private let bus: UInt64
    private let appOrigin: String
    /// Running tasks, by identity (main thread only).
    private var running: [ObjectIdentifier: SchemeTask] = [:]

    /// - Parameters:
    ///   - bus: the app's bus handle (from its Rust `bridge_ios::register`).
    ///   - appOrigin: the app's origin, e.g. `app://localhost`. WebKit gives a scheme task
    ///     no frame information, so the caller is derived from the `Origin`/`Referer`
    ///     WebKit attached; a request with neither is anonymous (public mounts only).
    public init(bus: UInt64, appOrigin: String) {
        self.bus = bus
        self.appOrigin = appOrigin
    }

    public func webView(_ webView: WKWebView, start urlSchemeTask: WKURLSchemeTask) {
        let task = SchemeTask(urlSchemeTask, owner: self)
        running[task.key] = task
        task.start(bus: bus, appOrigin: appOrigin)
    }

    public func webView(_ webView: WKWebView, stop urlSchemeTask: WKURLSchemeTask) {
        running.removeValue(forKey: ObjectIdentifier(urlSchemeTask))?.stop()
    }

    fileprivate func finished(_ task: SchemeTask) {
        running.removeValue(forKey: task.key)
    }
}

/// Where a request body comes from.
private enum BodySource {
    case none
    case data(Data)
    case stream(InputStream)
}

/// One `WKURLSchemeTask` and its bus request. Retained by the library (the callbacks'
/// context) until `on_release`.
private final class SchemeTask {
    let key: ObjectIdentifier
    private let task: WKURLSchemeTask
    private weak var owner: InprocBusSchemeHandler?
    /// The request handle; 0 once freed. Main thread only.
    private var request: UInt64 = 0
    /// `webView(_:stop:)` came, or the task was finished: never touch `task` again.
    private var stopped = false

    init(_ task: WKURLSchemeTask, owner: InprocBusSchemeHandler) {
        self.key = ObjectIdentifier(task)
        self.task = task
        self.owner = owner
    }

    func start(bus: UInt64, appOrigin: String) {
        let urlRequest = task.request
        guard let url = urlRequest.url else {
            fail(NSError(domain: NSURLErrorDomain, code: NSURLErrorBadURL))
            return
        }
        // Bodies from fetch/XHR arrive in httpBodyStream, not httpBody: read both.
        let body: BodySource
        if let data = urlRequest.httpBody {
            body = .data(data)
        } else if let stream = urlRequest.httpBodyStream {
            body = .stream(stream)
        } else {
            body = .none
        }

        var arena = Arena()
        defer { arena.release() }
        let method = arena.bytes(urlRequest.httpMethod ?? "GET")
        let target = arena.bytes(url.absoluteString)
        let origin = arena.bytes(appOrigin)
        let fields = urlRequest.allHTTPHeaderFields ?? [:]
        let headers = fields.map { name, value -> BusIosHeader in
            let n = arena.bytes(name)
            let v = arena.bytes(value)
            return BusIosHeader(name: n.pointer, name_len: n.count, value: v.pointer,
                                value_len: v.count)
        }
        let context = Unmanaged.passRetained(self).toOpaque()
        var callbacks = BusIosResponseCallbacks(
            context: context, on_head: schemeOnHead, on_data: schemeOnData,
            on_end: schemeOnEnd, on_error: schemeOnError, on_release: schemeOnRelease)
        let hasBody: Bool
        if case .none = body { hasBody = false } else { hasBody = true }
        var handle: UInt64 = 0
        let status: BusIosStatus = headers.withUnsafeBufferPointer { headers in
            var spec = BusIosRequest(
                method: method.pointer, method_len: method.count,
                url: target.pointer, url_len: target.count,
                headers: headers.baseAddress, header_count: headers.count,
                caller: BusIosCaller(
                    source: UInt32(BUS_IOS_CALLER_SCHEME_HEADERS),
                    origin: origin.pointer, origin_len: origin.count,
                    frame: UInt32(BUS_IOS_FRAME_UNKNOWN)),
                has_body: hasBody,
                window: UInt32(BUS_IOS_DEFAULT_WINDOW))
            return bus_ios_request_start(bus, &spec, &callbacks, &handle)
        }
        guard status == BUS_IOS_OK else {
            // Nothing started: no callback will come, the context is still ours.
            Unmanaged<SchemeTask>.fromOpaque(context).release()
            fail(InprocBusError(status: status, message: lastErrorMessage()).nsError)
            return
        }
        request = handle
        switch body {
        case .none:
            break
        case .data(let data):
            Thread.detachNewThread { SchemeTask.pump(data: data, into: handle) }
        case .stream(let stream):
            Thread.detachNewThread { [weak self] in
                if let error = SchemeTask.pump(stream: stream, into: handle) {
                    DispatchQueue.main.async { self?.uploadFailed(error) }
                }
            }
        }
    }

    /// `webView(_:stop:)`: cancel, forget the handle, never call the task again.
    func stop() {
        stopped = true
        free()
    }

    // MARK: Callbacks, on bus worker threads: copy, then hop to the main thread.

    fileprivate func receivedHead(status: Int, fields: [String: String]) {
        DispatchQueue.main.async { [self] in
            guard !stopped, let url = task.request.url else { return }
            let response = HTTPURLResponse(url: url, statusCode: status, httpVersion: "HTTP/1.1",
                                           headerFields: fields)
            if let response {
                task.didReceive(response)
            }
        }
    }

    fileprivate func received(_ data: Data) {
        DispatchQueue.main.async { [self] in
            guard !stopped else { return }
            task.didReceive(data)
            // WebKit has it: room for as much again.
            _ = bus_ios_request_credit(request, UInt32(data.count))
        }
    }

    fileprivate func ended() {
        DispatchQueue.main.async { [self] in
            guard !stopped else { return }
            task.didFinish()
            done()
        }
    }

    fileprivate func failed(_ error: NSError) {
        DispatchQueue.main.async { [self] in
            guard !stopped else { return }
            fail(error)
        }
    }

    // MARK: Main thread

    private func uploadFailed(_ error: Error) {
        guard !stopped else { return }
        fail(error)
    }

    private func fail(_ error: Error) {
        task.didFailWithError(error)
        done()
    }

    private func done() {
        stopped = true
        free()
        owner?.finished(self)
    }

    private func free() {
        if request != 0 {
            _ = bus_ios_request_free(request)
            request = 0
        }
    }

    // MARK: Body pumps, on their own thread (they block)

    private static let chunkSize = 64 * 1024
    private static let waitMs: UInt32 = 250

    /// Writes one chunk, waiting while the handler has not made room. False: stop
    /// pumping (the handler answered without the body, or the task was stopped).
    private static func write(_ bytes: UnsafeRawBufferPointer, into request: UInt64) -> Bool {
        while true {
            let status = bus_ios_request_write(
                request, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, waitMs)
            if status == BUS_IOS_OK { return true }
            if status != BUS_IOS_WOULD_BLOCK { return false }
        }
    }

    private static func pump(data: Data, into request: UInt64) {
        var offset = 0
        while offset < data.count {
            let end = min(offset + chunkSize, data.count)
            let ok = data[offset..<end].withUnsafeBytes { write($0, into: request) }
            if !ok { return }
            offset = end
        }
        _ = bus_ios_request_end(request)
    }

    /// Returns the stream's error, if reading it failed.
    private static func pump(stream: InputStream, into request: UInt64) -> Error? {
        stream.open()
        defer { stream.close() }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
        defer { buffer.deallocate() }
        while true {
            let n = stream.read(buffer, maxLength: chunkSize)
            if n < 0 {
                return stream.streamError ?? NSError(domain: NSURLErrorDomain,
                                                     code: NSURLErrorCannotDecodeContentData)
            }
            if n == 0 {
                _ = bus_ios_request_end(request)
                return nil
            }
            if !write(UnsafeRawBufferPointer(start: buffer, count: n), into: request) {
                return nil
            }
        }
    }
}

// MARK: C callbacks (no captures: the task comes back as the context)

private func schemeTask(_ context: UnsafeMutableRawPointer?) -> SchemeTask {
    Unmanaged<SchemeTask>.fromOpaque(context!).takeUnretainedValue()
}

private let schemeOnHead: BusIosOnHead = { context, status, headers, count in
    var fields: [String: String] = [:]
    for i in 0..<count {
        let header = headers![i]
        let name = string(header.name, header.name_len)
        let value = latin1(header.value, header.value_len)
        fields[name] = fields[name].map { "\($0), \(value)" } ?? value
    }
    schemeTask(context).receivedHead(status: Int(status), fields: fields)
}

private let schemeOnData: BusIosOnData = { context, data, count in
    schemeTask(context).received(Data(bytes: data!, count: count))
}

private let schemeOnEnd: BusIosOnEnd = { context in
    schemeTask(context).ended()
}

private let schemeOnError: BusIosOnError = { context, status, message, count in
    let error = InprocBusError(status: status, message: string(message, count))
    schemeTask(context).failed(error.nsError)
}

private let schemeOnRelease: BusIosOnRelease = { context in
    Unmanaged<SchemeTask>.fromOpaque(context!).release()
}
