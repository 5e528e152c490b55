// swift-tools-version: 6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// The static Swift runtime's link line exports every symbol of the program's own code
// (`-export-dynamic`): 28,000 names, whose table and symbol relocations the loader reads at every
// start. Nothing looks them up (the backtracer reads the file's own symbol table), so the
// executables export none.
let linkerSettings: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]

let package = Package(
    name: "stowage",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stowage", targets: ["stowage"])
    ],
    dependencies: [
        // No traits: the default ones link full Foundation (ICU, 40 MB) and build swift-configuration;
        // without them the binary needs FoundationEssentials only, which keeps the image small.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-collections.git", exact: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .target(
            name: "StowageCore",
            dependencies: [.product(name: "HashTreeCollections", package: "swift-collections")],
            swiftSettings: upcoming
        ),
        .target(
            name: "StowageStorage",
            dependencies: [
                "StowageCore",
                "CZlib",
                "CLinux",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "StowageHTTP",
            dependencies: [
                "StowageCore",
                "StowageStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The history page (/_admin/ui/), compiled into the binary: no CDN, no separate build step.
            resources: [.embedInCode("Page/index.html"), .embedInCode("Page/page.js"), .embedInCode("Page/page.css")],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "stowage",
            dependencies: [
                "StowageCore",
                "StowageStorage",
                "StowageHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming,
            linkerSettings: linkerSettings
        ),
        .target(
            name: "StowageTestSupport",
            dependencies: ["StowageCore", .product(name: "HashTreeCollections", package: "swift-collections")],
            path: "Tests/StowageTestSupport",
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "stowage-bench",
            dependencies: [
                "StowageCore", "StowageStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming,
            linkerSettings: linkerSettings
        ),
        .testTarget(
            name: "StowageCoreTests",
            dependencies: [
                "StowageCore", "StowageTestSupport",
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "StowageStorageTests",
            dependencies: [
                "StowageCore", "StowageStorage", "StowageTestSupport", "CZlib",
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            exclude: ["Golden"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "StowageHTTPTests",
            dependencies: [
                "StowageCore", "StowageStorage", "StowageHTTP", "StowageTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)
