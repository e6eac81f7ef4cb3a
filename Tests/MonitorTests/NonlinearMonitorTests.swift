import Foundation
import Monitor
import XCTest

/// The monitor's core on nonlinear loops: the tanh policy (Config/tanh_policy), a
/// discrete-time pendulum (Tests/Fixtures/discrete) and the unicycle's daemon file
/// (Config/unicycle/monitor.toml, an ODE plant). Each message gets its verdict by seq;
/// a state whose tube is certified is safe, and one already inside an unsafe set is unsafe.
final class NonlinearMonitorTests: XCTestCase {
    func verdicts(_ file: String, _ cases: [([Double], [Double], String)]) throws {
        let path = repositoryRoot.appendingPathComponent(file).path
        let core = try MonitorCore(configuration: MonitorConfiguration.load(path: path))
        for (seq, (x, radius, expected)) in cases.enumerated() {
            let body = "{\"seq\": \(seq), \"stamp\": 0, \"x\": \(x), \"radius\": \(radius)}"
            guard case .success(let m) = core.decoder.decode([Data("state".utf8), Data(body.utf8)]) else {
                return XCTFail("\(file): message \(seq) not decoded")
            }
            let v = core.process(m)
            XCTAssertEqual(v["seq"] as? UInt64, UInt64(seq), "\(v)")
            XCTAssertEqual(v["verdict"] as? String, expected, "\(file): state \(x): \(v)")
        }
        XCTAssertEqual(core.counters.processed, cases.count)
        XCTAssertEqual(core.counters.invalid, 0)
    }

    /// The 2-64-64-1 tanh policy on a double integrator: far from position ≥ 1 is safe; past it, unsafe.
    func testTanhPolicy() throws {
        try verdicts("Config/tanh_policy/system.toml", [
            ([-0.5, 0.0], [0.02, 0.02], "safe"), ([-0.45, 0.05], [0.02, 0.02], "safe"),
            ([1.3, 0.2], [0.02, 0.02], "unsafe"),
        ])
    }

    /// The README's discrete pendulum tube from [0.7, 0.8] × [−0.1, 0.1] is safe; past 1.2 rad is not.
    func testDiscretePendulum() throws {
        try verdicts("Tests/Fixtures/discrete/pendulum.toml", [
            ([0.75, 0.0], [0.05, 0.1], "safe"), ([1.3, 0.5], [0.01, 0.01], "unsafe"),
        ])
    }

    /// The car at its start clears the obstacle over the 1 s look-ahead; a car in it does not.
    func testUnicycleObstacle() throws {
        try verdicts("Config/unicycle/monitor.toml", [
            ([0.0, 0.0, 0.0], [0.01, 0.01, 0.02], "safe"), ([0.5, 0.1, 0.0], [0.01, 0.01, 0.02], "unsafe"),
        ])
    }
}
