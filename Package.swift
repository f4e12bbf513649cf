// swift-tools-version:6.0
// TokenMill: raw gzipped text → BPE vocabulary → token shards + SQLite index → GPT pre-training.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    // Hot loops live in structs over raw pointers; exclusivity is checked by design, not at runtime.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "TokenMill",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tokenmill", targets: ["tokenmill"]),
        .library(name: "TokenMill", targets: ["Common", "Corpus", "BPE", "Shards", "Loader", "GPT", "Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System libraries (Debian: zlib1g-dev for the tests' gzip writer, libsqlite3-dev).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Intel ISA-L (Debian: libisal-dev): gzip inflate and CRC-32.
        .systemLibrary(name: "CIsal", providers: [.apt(["libisal-dev"])]),
        // OpenBLAS (Debian: libopenblas0), loaded with dlopen when the model first needs it.
        .target(name: "CBLAS", linkerSettings: [.linkedLibrary("dl")]),

        // System calls Swift's Glibc module does not expose (sync_file_range, mallopt).
        .target(name: "CSys"),
        // What every stage shares: files and paths, the settings groups' coding.
        // Common, Corpus, Shards, Pipeline and tokenmill are in Swift 6 mode without the unsafe flag,
        // as BPE is: their per-record and per-document state lives in structs with mutating methods.
        .target(name: "Common", dependencies: ["CSys"], swiftSettings: [.swiftLanguageMode(.v6)]),

        // Pipeline stages, one library each.
        .target(name: "Corpus", dependencies: ["Common", "CIsal"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Swift 6 mode, without the unsafe flag: BPE's hot state lives in structs with mutating
        // methods (no class `var`s, no closures over local `var`s in hot loops), so exclusivity is
        // proven when compiling and no runtime checks are left for the flag to remove.
        .target(name: "BPE", dependencies: ["Common"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Shards", dependencies: ["Common", "Corpus", "CSQLite", "CIsal"],
                swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Loader", dependencies: ["Shards"], swiftSettings: swiftSettings),
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-fno-trapping-math"])]),
        .target(name: "GPT", dependencies: ["Common", "Loader", "CBLAS", "CKernels"], swiftSettings: swiftSettings),
        .target(
            name: "Pipeline",
            dependencies: ["Common", "Corpus", "BPE", "CSys", "Shards", "Loader", "GPT", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "tokenmill",
            dependencies: [
                "Common", "Corpus", "BPE", "Shards", "Loader", "GPT", "Pipeline", "CSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),

        // Tests mirror the targets; TestSupport holds seeded RNGs, temp dirs and oracle runners.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "ShardsTestSupport", dependencies: ["Shards"], path: "Tests/ShardsTestSupport",
                swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "CommonTests", dependencies: ["Common", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "CorpusTests", dependencies: ["Common", "Corpus", "CZlib", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BPETests", dependencies: ["BPE", "Corpus", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "ShardsTests", dependencies: ["Common", "Corpus", "Shards", "ShardsTestSupport", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "LoaderTests", dependencies: ["Corpus", "Loader", "TestSupport"]),
        .testTarget(name: "GPTTests", dependencies: ["GPT", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["BPE", "Common", "Corpus", "GPT", "Pipeline", "Shards", "ShardsTestSupport", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
    ],
    swiftLanguageModes: [.v5]
)
