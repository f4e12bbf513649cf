// swift-tools-version:6.0
// TokenMill: raw gzipped text → BPE vocabulary → token shards + SQLite index → GPT pre-training.
import PackageDescription

// Every target in Swift 6 language mode with strict concurrency checking, and no unsafe flags
// (SwiftPM refuses those in a package used as a dependency). Hot state lives in structs with
// mutating methods and over raw pointers inside the storage types that own the memory, so
// exclusivity is proven when compiling and `-enforce-exclusivity=unchecked` buys nothing.
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
        .target(name: "Common", dependencies: ["CSys"]),

        // Pipeline stages, one library each.
        .target(name: "Corpus", dependencies: ["Common", "CIsal"]),
        .target(name: "BPE", dependencies: ["Common"]),
        .target(name: "Shards", dependencies: ["Common", "Corpus", "CSQLite", "CIsal"]),
        .target(name: "Loader", dependencies: ["Common", "Shards"]),
        .target(name: "CKernels"),
        // Open MPI (Debian: openmpi-bin, libopenmpi-dev), loaded with dlopen under mpirun only.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "GPT", dependencies: ["Common", "Loader", "CBLAS", "CKernels", "CMPI"]),
        .target(
            name: "Pipeline",
            dependencies: ["Common", "Corpus", "BPE", "CSys", "Shards", "Loader", "GPT", .product(name: "TOMLKit", package: "TOMLKit")]),
        .executableTarget(
            name: "tokenmill",
            dependencies: [
                "Common", "Corpus", "BPE", "Shards", "Loader", "GPT", "Pipeline", "CSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Tests mirror the targets; TestSupport holds seeded RNGs, temp dirs and oracle runners.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .target(name: "ShardsTestSupport", dependencies: ["Shards"], path: "Tests/ShardsTestSupport"),
        .testTarget(name: "CommonTests", dependencies: ["Common", "TestSupport"]),
        .testTarget(name: "CorpusTests", dependencies: ["Common", "Corpus", "CZlib", "TestSupport"]),
        .testTarget(name: "BPETests", dependencies: ["BPE", "Corpus", "TestSupport"]),
        .testTarget(name: "ShardsTests", dependencies: ["Common", "Corpus", "Shards", "ShardsTestSupport", "TestSupport"]),
        .testTarget(name: "LoaderTests", dependencies: ["Corpus", "Loader", "TestSupport"]),
        .testTarget(name: "GPTTests", dependencies: ["GPT", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["BPE", "Common", "Corpus", "GPT", "Pipeline", "Shards", "ShardsTestSupport", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
