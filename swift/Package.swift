// swift-tools-version:5.9
// The Swift package over dashnet's C ABI. Build the XCFramework first
// (scripts/build-xcframework, macOS only); this package links it as a binary target.
import PackageDescription

let package = Package(
    name: "Dashnet",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [.library(name: "Dashnet", targets: ["Dashnet"])],
    targets: [
        // SwiftPM wants binary targets inside the package: the script copies it here.
        .binaryTarget(name: "CDashnet", path: "Dashnet.xcframework"),
        .target(name: "Dashnet", dependencies: ["CDashnet"], path: "Sources/Dashnet"),
    ]
)
