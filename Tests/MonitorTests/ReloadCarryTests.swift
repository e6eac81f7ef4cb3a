import Foundation
import XCTest
import Monitor

/// A reload swaps in a new MonitorCore: the supervisor must still see one
/// process (uptime, the latencies not yet reported), not a restart.
final class ReloadCarryTests: XCTestCase {
    func testUptimeAndPendingLatenciesSurviveAdoption() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("Fixtures/reliability/brake/system.toml").path
        let old = try MonitorCore(configuration: MonitorConfiguration.load(path: path))
        for seq in 0..<3 {
            let body = "{\"seq\": \(seq), \"stamp\": 0, \"x\": [0.6, 1.0]}"
            guard case .success(let m) = old.decoder.decode([Data("state".utf8), Data(body.utf8)]) else {
                return XCTFail("not decoded")
            }
            _ = old.process(m)
        }
        Thread.sleep(forTimeInterval: 0.3)
        let fresh = try MonitorCore(configuration: MonitorConfiguration.load(path: path))
        fresh.adoptCounters(from: old)
        let hb = fresh.heartbeat()
        XCTAssertGreaterThanOrEqual(hb["uptime_s"] as? Double ?? 0, 0.3)
        XCTAssertEqual((hb["latency_ms"] as? [String: Any])?["count"] as? Int, 3)
        XCTAssertEqual(hb["processed"] as? Int, 3)
    }
}
