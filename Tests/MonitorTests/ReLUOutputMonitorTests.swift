import Foundation
import XCTest
import Monitor

/// The monitor's path (decode, warm tube, verdict) with a controller whose last
/// operator is a ReLU: a verdict for every message, never `invalid` or a trap.
final class ReLUOutputMonitorTests: XCTestCase {
    func testVerdictsForAReLUOutputController() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("Fixtures/reliability/brake/system.toml").path
        let core = try MonitorCore(configuration: MonitorConfiguration.load(path: path))
        // States around the fixture's box: the brake's pre-activation straddles 0 there.
        for (seq, x) in [[0.6, 1.0], [0.55, 0.9], [0.65, 1.1], [0.6, 1.0]].enumerated() {
            let body = "{\"seq\": \(seq), \"stamp\": 0, \"x\": \(x), \"radius\": [0.05, 0.1]}"
            guard case .success(let m) = core.decoder.decode([Data("state".utf8), Data(body.utf8)]) else {
                return XCTFail("message \(seq) not decoded")
            }
            let v = core.process(m)
            XCTAssertEqual(v["verdict"] as? String, "safe", "\(v)")
            XCTAssertTrue(v["error"] is NSNull, "\(v)")
        }
        XCTAssertEqual(core.counters.processed, 4)
        XCTAssertEqual(core.counters.invalid, 0)
    }
}
