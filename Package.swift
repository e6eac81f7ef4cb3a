// swift-tools-version:6.0
// Dependencies, each for one reason:
//  - swift-argument-parser: the two command-line front ends.
//  - swift-log: the daemon's one-line-per-event logs on stderr (journald).
//  - swift-protobuf: decoding ONNX files (the generated onnx.pb.swift is committed;
//    no build plugin, which would add ~10 minutes to a first build).
//  - swift-property-based (tests only): random message mixes against a real daemon in MonitorTests.
import PackageDescription

let package = Package(
    name: "ReachGuard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "reachguard", targets: ["reachguard"]),
        .executable(name: "reachguardd", targets: ["reachguardd"]),
        // The decoders of outside data and the bound computations, for the fuzzers in Fuzz/.
        .library(name: "ReachGuardKit", targets: [
            "Monitor", "Network", "Reachability", "Verification", "Bounds", "Splitting", "LinearAlgebra",
        ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // System libraries, found with pkg-config.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // Debian 12's libzmq.pc adds `-isystem /usr/include/mit-krb5`, a flag SwiftPM
        // refuses with a warning on every build; zmq.h is in /usr/include and the
        // module map links -lzmq, so pkg-config is not needed for ZeroMQ.
        .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),

        // Layers, lowest first. A target only imports targets above it here.
        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS"]),
        .target(name: "ONNXSchema", dependencies: [
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "Network", dependencies: [
            "LinearAlgebra", "ONNXSchema",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "Bounds", dependencies: ["Network", "LinearAlgebra"]),
        .target(name: "Splitting", dependencies: ["Bounds", "Network", "LinearAlgebra"]),
        .target(name: "Verification", dependencies: ["Splitting", "Bounds", "Network", "LinearAlgebra"]),
        .target(name: "Reachability", dependencies: ["Splitting", "Bounds", "Network", "LinearAlgebra"]),
        .target(name: "Monitor", dependencies: ["Reachability", "Splitting", "Bounds", "LinearAlgebra"]),
        .target(name: "Transport", dependencies: ["CZeroMQ", "CSystemd"]),
        .executableTarget(name: "reachguard", dependencies: [
            "LinearAlgebra", "Network", "Bounds", "Splitting", "Verification", "Reachability", "Monitor", "Transport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "reachguardd", dependencies: [
            "Monitor", "Reachability", "Transport", "LinearAlgebra",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "NetworkTests", dependencies: ["Network", "LinearAlgebra", "ONNXSchema"],
                    exclude: []),
        // The HiGHS/MILP fixture loader, shared by the solver-side tests.
        .target(name: "OracleFixtures", dependencies: ["Bounds", "Network", "LinearAlgebra"], path: "Tests/OracleFixtures"),
        .testTarget(name: "BoundsTests", dependencies: ["Bounds", "Network", "LinearAlgebra", "OracleFixtures"]),
        .testTarget(name: "SplittingTests", dependencies: ["Splitting", "Bounds", "Network", "LinearAlgebra", "OracleFixtures"]),
        .testTarget(name: "VerificationTests", dependencies: ["Verification", "Splitting", "Bounds", "Network", "LinearAlgebra",
                                                          "OracleFixtures"]),
        .testTarget(name: "ReachabilityTests", dependencies: ["Reachability", "Splitting", "Bounds", "Network", "LinearAlgebra"]),
        .testTarget(name: "ConvTests", dependencies: ["Splitting", "Bounds", "Network", "LinearAlgebra"]),
        .testTarget(name: "CLITests", dependencies: ["reachguard"]),
        .target(name: "TestClock", path: "Tests/TestClock"),
        .testTarget(name: "MonitorTests", dependencies: [
            "Monitor", "Reachability", "Transport", "reachguardd", "reachguard", "TestClock",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "TestClock"]),
    ],
    swiftLanguageModes: [.v6]
)
