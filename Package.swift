// swift-tools-version:6.0
import PackageDescription

// Dependencies stay lean on purpose: libcurl and libcrypto come from the system (design card),
// SQLite is the system libsqlite3 under GRDB. No NIO-based HTTP client, no BoringSSL copy.
let package = Package(
    name: "cassnap",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cassnap-agent", targets: ["cassnap-agent"]),
        .executable(name: "cassnap-coordinator", targets: ["cassnap-coordinator"]),
        .executable(name: "cassnap", targets: ["cassnap"]),
        .executable(name: "fake-nodetool", targets: ["fake-nodetool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        // /metrics in the Prometheus text format; swift-metrics already comes with Hummingbird.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries (Debian: libcurl4-openssl-dev, libssl-dev).
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),

        // Domain types: SSTable names, data-dir layout, snapshot tags, manifests, object keys.
        .target(name: "CassnapCore"),
        // Hashes and MACs over libcrypto.
        .target(name: "CassnapCrypto", dependencies: ["COpenSSL"]),
        // HTTP client over libcurl.
        .target(name: "CassnapHTTP", dependencies: ["CCurl", "CassnapCore"]),
        // The ObjectStore protocol and its filesystem / in-memory stores.
        .target(name: "CassnapObjectStore", dependencies: ["CassnapCore", "CassnapCrypto"]),
        // CRC32C (Castagnoli) with SSE4.2, for GCS object checksums.
        .target(name: "CCRC32C"),
        // S3 and S3-compatible stores: SigV4, multipart with resume, the AWS credentials chain.
        .target(name: "CassnapS3", dependencies: ["CassnapObjectStore", "CassnapHTTP", "CassnapCrypto"]),
        // GCS JSON API: resumable uploads, service-account and metadata-server credentials.
        .target(
            name: "CassnapGCS",
            dependencies: ["CassnapObjectStore", "CassnapHTTP", "CassnapCrypto", "CCRC32C"]),
        // One function from a store URL to a store (with retry, concurrency and bandwidth
        // wrappers), and cloud detection.
        .target(
            name: "CassnapStoreFactory",
            dependencies: ["CassnapObjectStore", "CassnapS3", "CassnapGCS", "CassnapHTTP"]),
        // What is in the bucket and everything that reads it back: records, manifests, checks.
        .target(
            name: "CassnapRepository", dependencies: ["CassnapCore", "CassnapObjectStore", "CassnapCrypto"]),
        // Linux inotify watcher; depends on nothing of ours.
        .target(name: "CassnapWatcher"),
        // Types shared by agent, coordinator and CLI on the wire.
        .target(name: "CassnapAPI", dependencies: ["CassnapCore"]),
        // The coordinator's API as Swift calls over libcurl: for the CLI, the agent and tests.
        .target(name: "CassnapClient", dependencies: ["CassnapAPI", "CassnapCore", "CassnapHTTP"]),
        .target(
            name: "CassnapAgent",
            dependencies: [
                "CassnapCore", "CassnapAPI", "CassnapClient", "CassnapObjectStore", "CassnapStoreFactory",
                "CassnapWatcher", "CassnapCrypto", "CassnapRepository", "CassnapCLI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(
            name: "CassnapCoordinator",
            dependencies: [
                "CassnapCore", "CassnapAPI", "CassnapObjectStore", "CassnapStoreFactory", "CassnapRepository",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                // HTTPS served by the coordinator itself (BoringSSL through swift-nio-ssl).
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .target(
            name: "CassnapCLI",
            dependencies: [
                "CassnapCore", "CassnapAPI", "CassnapClient", "CassnapObjectStore", "CassnapStoreFactory",
                "CassnapRepository",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "cassnap-agent",
            dependencies: ["CassnapAgent", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "cassnap-coordinator",
            dependencies: ["CassnapCoordinator", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "cassnap", dependencies: ["CassnapCLI"]),

        // Test support: a faithful fake nodetool and a Cassandra data-directory builder.
        .target(
            name: "CassnapTestSupport",
            dependencies: ["CassnapCore", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "fake-nodetool", dependencies: ["CassnapTestSupport"]),

        .testTarget(name: "CassnapCoreTests", dependencies: ["CassnapCore"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "CassnapSystemTests",
            dependencies: [
                "CassnapCrypto", "CassnapHTTP", "CassnapTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "CassnapObjectStoreTests",
            dependencies: [
                "CassnapObjectStore", "CassnapStoreFactory", "CassnapS3", "CassnapGCS", "CassnapHTTP",
                "CassnapCrypto",
                "CassnapTestSupport",
            ]),
        .testTarget(
            name: "CassnapS3Tests",
            dependencies: ["CassnapS3", "CassnapObjectStore", "CassnapCrypto", "CassnapTestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "CassnapGCSTests",
            dependencies: ["CassnapGCS", "CCRC32C", "CassnapCrypto", "CassnapTestSupport"]),
        .testTarget(
            name: "CassnapAgentTests",
            dependencies: [
                "CassnapAgent", "CassnapAPI", "CassnapCore", "CassnapObjectStore", "CassnapStoreFactory",
                "CassnapS3",
                "CassnapCrypto", "CassnapRepository", "CassnapTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "CassnapCoordinatorTests",
            dependencies: [
                "CassnapCoordinator", "CassnapAPI", "CassnapClient", "CassnapCLI", "CassnapCore",
                "CassnapObjectStore",
                "CassnapTestSupport",
                .product(name: "Yams", package: "Yams"), .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "CassnapRepositoryTests",
            dependencies: [
                "CassnapRepository", "CassnapCore", "CassnapObjectStore", "CassnapCrypto",
                "CassnapTestSupport",
            ]),
        .testTarget(
            name: "CassnapWatcherTests",
            dependencies: ["CassnapWatcher", "CassnapCore", "CassnapTestSupport"]),
        .testTarget(
            name: "CassnapTestSupportTests",
            dependencies: ["CassnapTestSupport", "CassnapCore"]),
    ]
)
