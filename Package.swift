// swift-tools-version:6.0
import PackageDescription

// libshale.so is linked from the small `ShaleDylib` target only: it carries the
// static Swift runtime and the version script that exports nothing but shale_*.
// Those flags must stay off every target that tests link against.
let versionScript = Context.packageDirectory + "/Sources/ShaleDylib/exports.map"

let package = Package(
    name: "shale",
    products: [
        .library(name: "shale", type: .dynamic, targets: ["ShaleDylib"]),
        .library(name: "Shale", targets: ["Shale"]),
        .executable(name: "shale-cli", targets: ["ShaleCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The public C header, the single source of truth for the ABI.
        .target(name: "CShaleABI", path: "include", publicHeadersPath: "."),
        // Small C helpers the engine needs: hardware CRC32C.
        .target(name: "CShaleSupport"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .target(
            name: "Shale",
            dependencies: [
                "CShaleSupport", "CZstd", "CLZ4",
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // @c @implementation exports: argument checks, copying, status mapping.
        .target(name: "ShaleC", dependencies: ["Shale", "CShaleABI"]),
        .target(
            name: "ShaleDylib",
            dependencies: ["ShaleC"],
            exclude: ["exports.map"],
            linkerSettings: [
                .unsafeFlags([
                    "-static-stdlib", "-use-ld=lld",
                    "-Xlinker", "--version-script=\(versionScript)",
                    "-Xlinker", "-z", "-Xlinker", "defs",
                ])
            ]
        ),
        // The `shale` command-line tool for operators (bin/shale runs it).
        .executableTarget(
            name: "ShaleCLI",
            dependencies: ["Shale", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // A writer process the crash tests start and kill with SIGKILL.
        .executableTarget(name: "shale-crash-writer", dependencies: ["Shale"]),
        .testTarget(name: "ShaleTests", dependencies: ["Shale"]),
        .testTarget(name: "ShaleRecoveryTests", dependencies: ["Shale"]),
        .testTarget(name: "ShaleCheckpointTests", dependencies: ["Shale"]),
    ]
)
