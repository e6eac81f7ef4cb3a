import Foundation
import XCTest

/// The real reachguardd on the pendulum's ODE configuration (Config/pendulum),
/// over ZeroMQ on ipc://: the same verdict messages and counters as for linear
/// plants, with the validated Taylor discretisation inside each tube.
final class ODEDaemonTests: XCTestCase {
    func testPendulumVerdictsOverZeroMQ() throws {
        let d = try DaemonHarness(deadlineMs: 2000, name: "ode", example: "pendulum")
        defer { _ = d.stop() }
        try d.handshake()
        // Near upright: certified clear of |th| >= 0.6 over the whole 0.5 s look-ahead.
        // Past the limit already: unsafe at step 0. Falling fast: never `safe`.
        let cases: [(UInt64, [Double], [String])] = [
            (1, [0.2, 0.0], ["safe"]), (2, [0.7, 0.5], ["unsafe"]), (3, [0.5, 3.0], ["unsafe", "unknown"]),
        ]
        for (seq, x, _) in cases {
            try d.send(seq: seq, x: x, radius: [0.01, 0.02])
            // One at a time: sent together, the newer would win and the older be skipped.
            let answered = try d.collect(seconds: 30) { m in
                m.contains { $0.topic == "verdict" && ($0.body["seq"] as? UInt64) == seq }
            }
            XCTAssertTrue(answered, "no verdict for seq \(seq): \(d.stderrText())")
        }
        let verdicts = d.verdicts()
        for (seq, x, expected) in cases {
            let v = verdicts.first { ($0["seq"] as? UInt64) == seq }
            let verdict = v?["verdict"] as? String ?? "none"
            XCTAssertTrue(expected.contains(verdict), "state \(x): \(verdict), expected \(expected): \(v ?? [:])")
            XCTAssertEqual((v?["margins"] as? [Any])?.count, 11, "a margin per step, 0 to the horizon 10")
        }
        let safe = verdicts.first { ($0["seq"] as? UInt64) == 1 }
        // CROWN's certificates already prove it: the daemon stops there (certify_first).
        XCTAssertEqual(safe?["method"] as? String, "crown/one-shot/crown-intermediates")
        let hb = try d.settledHeartbeat()
        // Read after the heartbeats: an alert is published after its verdict.
        let alerts = Set(d.verdicts(topic: "alert").compactMap { $0["seq"] as? UInt64 })
        XCTAssertEqual(alerts.intersection([1, 2, 3]), [2, 3], "an alert for each state not certified safe")
        let received = hb["received"] as? Int ?? -1
        let accounted = (hb["processed"] as? Int ?? 0) + (hb["skipped"] as? Int ?? 0) + (hb["invalid"] as? Int ?? 0)
        XCTAssertEqual(received, accounted, "every message accounted for: \(hb)")
        XCTAssertEqual(hb["invalid"] as? Int, 0)
    }
}
