import Foundation
import InprocBusFFI

/// A call into the bus's C ABI that did not return `BUS_IOS_OK`.
public struct InprocBusError: Error, CustomStringConvertible {
    /// The `BUS_IOS_*` status.
    public let status: BusIosStatus
    /// The library's message for it (the calling thread's last error).
    public let message: String

    public var description: String { message }

    /// Throws the calling thread's last error when `status` is not `BUS_IOS_OK`.
    static func check(_ status: BusIosStatus) throws {
        if status != BUS_IOS_OK {
            throw InprocBusError(status: status, message: lastErrorMessage())
        }
    }

    /// As an `NSError` for `WKURLSchemeTask.didFailWithError`.
    var nsError: NSError {
        NSError(domain: "InprocBus", code: Int(status),
                userInfo: [NSLocalizedDescriptionKey: message])
    }
}

/// The calling thread's last error message (copied; the library's buffer is freed).
func lastErrorMessage() -> String {
    var bytes = BusIosBytes()
    guard bus_ios_last_error(&bytes) == BUS_IOS_OK else { return "unknown error" }
    defer { _ = bus_ios_bytes_free(&bytes) }
    return string(bytes.ptr, bytes.len)
}

/// UTF-8 text from a borrowed view (invalid sequences replaced).
func string(_ pointer: UnsafePointer<UInt8>?, _ count: Int) -> String {
    String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
}

/// A header value from a borrowed view: bytes as Latin-1 (HTTP's obs-text), like
/// Foundation's own HTTP stack.
func latin1(_ pointer: UnsafePointer<UInt8>?, _ count: Int) -> String {
    let bytes = UnsafeBufferPointer(start: pointer, count: count)
    return String(bytes: bytes, encoding: .isoLatin1) ?? String(decoding: bytes, as: UTF8.self)
}

/// One of the scripts the host injects (`BUS_IOS_SCRIPT_PAGE`, `BUS_IOS_SCRIPT_RELAY`),
/// built by the library for `origin`.
func busScript(_ which: Int32, origin: String) throws -> String {
    var out = BusIosBytes()
    var origin = origin
    let status = origin.withUTF8 { utf8 in
        bus_ios_script(UInt32(which), utf8.baseAddress, utf8.count, &out)
    }
    try InprocBusError.check(status)
    defer { _ = bus_ios_bytes_free(&out) }
    return string(out.ptr, out.len)
}

/// Copies of strings as bytes, valid until `release()`: the borrowed views of one C call.
struct Arena {
    private var buffers: [UnsafeMutableBufferPointer<UInt8>] = []

    mutating func bytes(_ text: String) -> (pointer: UnsafePointer<UInt8>?, count: Int) {
        let utf8 = Array(text.utf8)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(utf8.count, 1))
        _ = buffer.initialize(from: utf8)
        buffers.append(buffer)
        return (UnsafePointer(buffer.baseAddress), utf8.count)
    }

    func release() {
        buffers.forEach { $0.deallocate() }
    }
}

/// `scheme://host[:port]` of a `WKSecurityOrigin`-like triple, lower case.
func origin(protocol scheme: String, host: String, port: Int) -> String {
    let base = "\(scheme)://\(host)".lowercased()
    return port == 0 ? base : "\(base):\(port)"
}
