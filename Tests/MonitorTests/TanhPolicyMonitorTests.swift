import Foundation
import Monitor
import XCTest

/// The monitor's path with the tanh policy of Config/tanh_policy (2-64-64-1
/// tanh on a double integrator): every message gets a verdict by its seq, a
/// state far from the unsafe set (position ≥ 1) is certified safe, and a state
/// already past it is unsafe (a simulated trajectory enters the set).
final class TanhPolicyMonitorTests: XCTestCase {
    func testVerdictsForTheTanhPolicy() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("Config/tanh_policy/system.toml").path
        let core = try MonitorCore(configuration: MonitorConfiguration.load(path: path))
        let cases: [([Double], String)] = [([-0.5, 0.0], "safe"), ([-0.45, 0.05], "safe"), ([1.3, 0.2], "unsafe")]
        for (seq, (x, expected)) in cases.enumerated() {
            let body = "{\"seq\": \(seq), \"stamp\": 0, \"x\": \(x), \"radius\": [0.02, 0.02]}"
            guard case .success(let m) = core.decoder.decode([Data("state".utf8), Data(body.utf8)]) else {
                return XCTFail("message \(seq) not decoded")
            }
            let v = core.process(m)
            XCTAssertEqual(v["seq"] as? UInt64, UInt64(seq), "\(v)")
            XCTAssertEqual(v["verdict"] as? String, expected, "state \(x): \(v)")
        }
        XCTAssertEqual(core.counters.processed, cases.count)
        XCTAssertEqual(core.counters.invalid, 0)
    }
}
