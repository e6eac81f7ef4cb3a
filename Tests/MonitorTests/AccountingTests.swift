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

    /// seq is a uint64: the largest is solved and echoed digit for digit, in a valid
    /// verdict and in an invalid one; one past it is refused without a seq.
    func testTheLargestSeqIsEchoedExactly() throws {
        let d = try DaemonHarness(name: "seq")
        defer { _ = d.stop() }
        try d.handshake()
        // The JSON text, not a parsed number: a parser may round 2^64 - 1 through a Double.
        func echoes(_ verdict: String) -> Bool {
            zip(d.messages, d.texts).contains { m, text in
                m.topic == "verdict" && m.body["verdict"] as? String == verdict
                    && text.contains(#""seq":18446744073709551615,"#)
            }
        }
        try d.send(frames(#"{"seq":18446744073709551615,"stamp":0,"x":[0.5,0]}"#))
        XCTAssertTrue(try d.collect(seconds: 20) { _ in echoes("safe") }, "no safe verdict echoing 2^64 - 1")
        try d.send(frames(#"{"seq":18446744073709551615,"stamp":0,"x":[NaN,0]}"#))
        try d.send(frames(#"{"seq":18446744073709551616,"stamp":0,"x":[0.5,0]}"#))
        XCTAssertTrue(try d.collect(seconds: 20) { m in
            echoes("invalid") && m.contains { ($0.body["error"] as? String)?.contains("18446744073709551616") == true }
        }, "no invalid verdicts for the NaN state and for 2^64: \(d.texts)")
        let tooLarge = d.verdicts().filter { ($0["error"] as? String)?.contains("18446744073709551616") == true }
        XCTAssertEqual(tooLarge.count, 1, "2^64 is refused by name")
        XCTAssertTrue(tooLarge.first?["seq"] is NSNull, "and no seq is made up for it")
    }
}
