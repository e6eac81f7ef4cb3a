import Foundation
import TestClock
import XCTest

final class AccountingTests: XCTestCase {
    func frames(_ json: String) -> [Data] { [Data("state".utf8), Data(json.utf8)] }

    /// Finite but extreme: the box reaches 2e308 = inf, the solve throws, and the
    /// message gets one `invalid` verdict, counted once (it was counted twice).
    func testASolveThatThrowsIsCountedOnce() throws {
        let d = try DaemonHarness(name: "once")
        defer { _ = d.stop() }
        try d.handshake()
        let base = try d.settledHeartbeat()
        try d.send(frames(#"{"seq":1,"stamp":0,"x":[1e308,0],"radius":[1e308,0]}"#))
        let answered = try d.collect(seconds: 20) { m in
            m.contains { $0.topic == "verdict" && ($0.body["seq"] as? Int) == 1 }
        }
        XCTAssertTrue(answered, "no verdict for seq 1")
        XCTAssertEqual(d.verdicts().first { ($0["seq"] as? Int) == 1 }?["verdict"] as? String, "invalid")
        let hb = try d.settledHeartbeat()
        func delta(_ key: String) -> Int { (hb[key] as? Int ?? -1) - (base[key] as? Int ?? 0) }
        XCTAssertEqual(delta("received"), 1)
        XCTAssertEqual(delta("invalid"), 1, "one message, one invalid count: \(hb)")
        XCTAssertEqual(delta("processed"), 0)
        XCTAssertEqual(hb["received"] as? Int, (hb["processed"] as? Int ?? 0) + (hb["skipped"] as? Int ?? 0)
                       + (hb["invalid"] as? Int ?? 0), "received = processed + skipped + invalid: \(hb)")
    }
}
