// swift-tools-version:6.0
// Uses TokenMill as a library, as another project would: by its package (here, by path) and
// its `TokenMill` product.
import PackageDescription

let package = Package(
    name: "hello-tokenmill",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "TokenMill", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "hello-tokenmill", dependencies: [.product(name: "TokenMill", package: "TokenMill")]),
    ]
)
