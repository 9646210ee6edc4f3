import Foundation
import InprocBusFFI
import WebKit

/// What `installInprocBus` set up; keep it as long as the WebView.
public final class InprocBus {
    /// Serves the app's scheme.
    public let schemeHandler: InprocBusSchemeHandler
    /// The shim's frame channel.
    public let messageHandler: InprocBusMessageHandler

    /// The content world of the relay script and the message handler.
    public static let contentWorldName = "inproc-bus"
    /// The message handler's name in that world (the relay script posts to it).
    public static let messageHandlerName = "inprocBus"

    init(schemeHandler: InprocBusSchemeHandler, messageHandler: InprocBusMessageHandler) {
        self.schemeHandler = schemeHandler
        self.messageHandler = messageHandler
    }
}

extension WKWebViewConfiguration {
    /// Makes `appOrigin` (e.g. `app://localhost`) be served by the bus `bus` in WebViews
    /// created with this configuration, and installs the bridge-js shim for it:
    ///
    /// - the scheme handler for the origin's scheme (navigations, subresources, bodies);
    /// - the bridge-js bundle, in the page's world, main frame only, at document start
    ///   (it installs nothing on a document of another origin);
    /// - the relay script and the frame message handler in a content world of their own,
    ///   main frame only, invisible to page scripts and iframes.
    ///
    /// Call it before creating the `WKWebView`: a configuration is copied at creation.
    ///
    /// - Parameter bus: the app's bus handle, from its Rust crate's `bridge_ios::register`.
    /// - Throws: `InprocBusError` when `appOrigin` is not `scheme://host[:port]`.
    @discardableResult
    public func installInprocBus(bus: UInt64, appOrigin: String) throws -> InprocBus {
        let pageScript = try busScript(BUS_IOS_SCRIPT_PAGE, origin: appOrigin)
        let relayScript = try busScript(BUS_IOS_SCRIPT_RELAY, origin: appOrigin)
        guard let scheme = appOrigin.components(separatedBy: "://").first, !scheme.isEmpty else {
            throw InprocBusError(status: BUS_IOS_INVALID_ARGUMENT, message: "not an origin: \(appOrigin)")
        }
        let world = WKContentWorld.world(name: InprocBus.contentWorldName)
        let schemeHandler = InprocBusSchemeHandler(bus: bus, appOrigin: appOrigin)
        setURLSchemeHandler(schemeHandler, forURLScheme: scheme)

        let controller = userContentController
        controller.addUserScript(WKUserScript(source: pageScript, injectionTime: .atDocumentStart,
                                              forMainFrameOnly: true, in: .page))
        controller.addUserScript(WKUserScript(source: relayScript, injectionTime: .atDocumentStart,
                                              forMainFrameOnly: true, in: world))
        let messageHandler = InprocBusMessageHandler(bus: bus, appOrigin: appOrigin, world: world)
        controller.addScriptMessageHandler(messageHandler, contentWorld: world,
                                           name: InprocBus.messageHandlerName)
        return InprocBus(schemeHandler: schemeHandler, messageHandler: messageHandler)
    }
}
