import Foundation
import XCTest
import TestClock
import Transport

final class CurveTests: XCTestCase {
    /// Only authorized keys reach the solver or hear the verdicts.
    func testOnlyAuthorizedPeersChangeOrSeeVerdicts() throws {
        guard ZMQSocket.hasCurve else { throw XCTSkip("libzmq without CURVE") }
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("rg-curve-\(getpid())")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: keys) }
        let server = try ZMQCurve.keyPair(), robot = try ZMQCurve.keyPair(), stranger = try ZMQCurve.keyPair()
        try (server.secretKey + "\n").write(to: keys.appendingPathComponent("server.key"), atomically: true, encoding: .utf8)
        try "# the robot and its supervisor\n\(robot.publicKey)\n".write(to: keys.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
        let d = try DaemonHarness(name: "curve", extra: """
            [zmq.curve]
            secret_key_file = "\(keys.path)/server.key"
            authorized_keys_file = "\(keys.path)/authorized_keys"
            """)
        defer { _ = d.stop() }
        let ctx = d.context
        func client(_ kind: ZMQSocket.Kind, _ pair: (publicKey: String, secretKey: String)?) throws -> ZMQSocket {
            let s = try ZMQSocket(context: ctx, kind: kind)
            if let pair { try s.setCurveClient(serverKey: server.publicKey, publicKey: pair.publicKey, secretKey: pair.secretKey) }
            if kind == .subscriber { try s.subscribe("") }
            try s.connect(kind == .publisher ? "ipc://\(d.directory.path)/sensor" : "ipc://\(d.directory.path)/alerts")
            return s
        }
        let supervisor = try client(.subscriber, robot)
        let eavesdropper = try client(.subscriber, nil)
        let strangerSub = try client(.subscriber, stranger)
        let good = try client(.publisher, robot)
        let evil = try client(.publisher, stranger)
        let plain = try client(.publisher, nil)
        func frames(_ seq: Int, _ x: Double) -> [Data] {
            [Data("state".utf8), Data("{\"seq\": \(seq), \"stamp\": 0, \"x\": [\(x), 0]}".utf8)]
        }
        var seen: [Int: String] = [:]
        var heard = 0
        var lastBeat: [String: Any] = [:]
        let end = Deadline(seconds: 20)
        while !end.passed && seen[1] == nil {
            _ = try good.send(frames(1, 0.5), blocking: false)
            _ = try evil.send(frames(666, 3.9), blocking: false)
            _ = try plain.send(frames(667, 3.9), blocking: false)
            while let f = try supervisor.receive(timeoutMilliseconds: 50) {
                guard f.count == 2, let o = try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any] else { continue }
                let topic = String(decoding: f[0], as: UTF8.self)
                if topic == "verdict", let s = o["seq"] as? Int { seen[s] = o["verdict"] as? String }
                if topic == "heartbeat" { lastBeat = o }
            }
        }
        // Keep the strangers trying a little longer, then read the final counters.
        for _ in 0..<10 {
            _ = try evil.send(frames(666, 3.9), blocking: false)
            _ = try plain.send(frames(667, 3.9), blocking: false)
            while let f = try supervisor.receive(timeoutMilliseconds: 50) {
                if f.count == 2, String(decoding: f[0], as: UTF8.self) == "heartbeat",
                   let o = try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any] { lastBeat = o }
                if f.count == 2, let o = try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any], let s = o["seq"] as? Int {
                    seen[s] = o["verdict"] as? String
                }
            }
        }
        for s in [eavesdropper, strangerSub] { while (try s.receive(timeoutMilliseconds: 10)) != nil { heard += 1 } }
        XCTAssertEqual(seen[1], "safe", "the authorized publisher gets its verdict; daemon said: \(seen[1] == nil ? d.stderrText() : "")")
        XCTAssertNil(seen[666], "a stranger's state never reaches the solver")
        XCTAssertNil(seen[667], "a keyless state never reaches the solver")
        XCTAssertEqual(heard, 0, "supervisors without an authorized key receive nothing")
        XCTAssertGreaterThan(lastBeat["rejected"] as? Int ?? 0, 0, "refusals are counted")
        XCTAssertGreaterThan(lastBeat["handshake_failures"] as? Int ?? 0, 0, "keyless clients' failed handshakes are counted")
        for s in [supervisor, eavesdropper, strangerSub, good, evil, plain] { s.close() }
    }
}
