// swift-tools-version:5.9
// The Swift side of bridge-ios: a WKURLSchemeHandler and a WKScriptMessageHandlerWithReply
// over the C ABI in ../include/bus_ios.h. All logic is in Rust; this is plumbing.
//
// InprocBusFFI.xcframework is the *app's* Rust staticlib (its crate depends on bridge-ios,
// builds its Bus and calls bridge_ios::register) with bus_ios.h and module.modulemap as
// headers; build it with ../scripts/build-xcframework.sh <app-crate> (macOS + Xcode).
import PackageDescription

let package = Package(
    name: "InprocBus",
    platforms: [.iOS(.v14)],
    products: [
        .library(name: "InprocBus", targets: ["InprocBus"]),
    ],
    targets: [
        .binaryTarget(name: "InprocBusFFI", path: "InprocBusFFI.xcframework"),
        .target(
            name: "InprocBus",
            dependencies: ["InprocBusFFI"],
            linkerSettings: [.linkedFramework("WebKit")]
        ),
    ],
    swiftLanguageVersions: [.v5]
)
