// swift-tools-version:6.0
// libFuzzer targets for every decoder of outside data, and a structure fuzzer of the
// bound computations (FuzzSolver). Build and run with
// Scripts/fuzz.sh (libFuzzer and AddressSanitizer, release).
import PackageDescription

let package = Package(
    name: "ReachGuardFuzz",
    dependencies: [.package(name: "ReachGuard", path: "..")],
    targets: [
        .executableTarget(name: "FuzzSensor", dependencies: [.product(name: "ReachGuardKit", package: "ReachGuard")]),
        .executableTarget(name: "FuzzONNX", dependencies: [.product(name: "ReachGuardKit", package: "ReachGuard")]),
        .executableTarget(name: "FuzzTOML", dependencies: [.product(name: "ReachGuardKit", package: "ReachGuard")]),
        .executableTarget(name: "FuzzVNNLIB", dependencies: [.product(name: "ReachGuardKit", package: "ReachGuard")]),
        .executableTarget(name: "FuzzSolver", dependencies: [.product(name: "ReachGuardKit", package: "ReachGuard")]),
    ],
    swiftLanguageModes: [.v6]
)
