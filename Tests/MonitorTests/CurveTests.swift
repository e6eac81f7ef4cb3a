import Foundation
import TestClock
import Transport
import XCTest

/// A CURVE daemon: a server key, the robot's key authorized, a stranger's not.
final class CurveDaemon {
    let keys: URL
    let server: (publicKey: String, secretKey: String)
    let robot: (publicKey: String, secretKey: String)
    let stranger: (publicKey: String, secretKey: String)
    let d: DaemonHarness

    init(name: String) throws {
        keys = FileManager.default.temporaryDirectory.appendingPathComponent("rg-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        server = try ZMQCurve.keyPair()
        robot = try ZMQCurve.keyPair()
        stranger = try ZMQCurve.keyPair()
        try (server.secretKey + "\n").write(to: keys.appendingPathComponent("server.key"), atomically: true, encoding: .utf8)
        try "# the robot and its supervisor\n\(robot.publicKey)\n"
            .write(to: keys.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
        d = try DaemonHarness(name: name, extra: """
            [zmq.curve]
            secret_key_file = "\(keys.path)/server.key"
            authorized_keys_file = "\(keys.path)/authorized_keys"
            """)
    }

    /// A client of the daemon's sensor (publisher) or alerts (subscriber) socket; no key pair: no CURVE.
    func client(_ kind: ZMQSocket.Kind, _ pair: (publicKey: String, secretKey: String)?) throws -> ZMQSocket {
        let s = try ZMQSocket(context: d.context, kind: kind)
        if let pair {
            try s.setCurveClient(serverKey: server.publicKey, publicKey: pair.publicKey, secretKey: pair.secretKey)
        }
        if kind == .subscriber { try s.subscribe("") }
        try s.connect(kind == .publisher ? "ipc://\(d.directory.path)/sensor" : "ipc://\(d.directory.path)/alerts")
        return s
    }

    func stop() -> Int32 {
        let status = d.stop()
        try? FileManager.default.removeItem(at: keys)
        return status
    }
}

func stateFrames(_ seq: Int, _ x: Double) -> [Data] {
    [Data("state".utf8), Data("{\"seq\": \(seq), \"stamp\": 0, \"x\": [\(x), 0]}".utf8)]
}

/// The topic and the object of each message waiting on `s`, for up to 50 ms each.
func drain(_ s: ZMQSocket) throws -> [(topic: String, body: [String: Any])] {
    var out: [(topic: String, body: [String: Any])] = []
    while let f = try s.receive(timeoutMilliseconds: 50) {
        guard f.count == 2, let o = try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any] else { continue }
        out.append((String(decoding: f[0], as: UTF8.self), o))
    }
    return out
}

final class CurveTests: XCTestCase {
    /// Only authorized keys reach the solver or hear the verdicts.
    func testOnlyAuthorizedPeersChangeOrSeeVerdicts() throws {
        guard ZMQSocket.hasCurve else { throw XCTSkip("libzmq without CURVE") }
        let c = try CurveDaemon(name: "curve")
        let d = c.d
        defer { _ = c.stop() }
        let supervisor = try c.client(.subscriber, c.robot)
        let eavesdropper = try c.client(.subscriber, nil)
        let strangerSub = try c.client(.subscriber, c.stranger)
        let good = try c.client(.publisher, c.robot)
        let evil = try c.client(.publisher, c.stranger)
        let plain = try c.client(.publisher, nil)
        let frames = stateFrames
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

    /// SIGHUP swaps in a new monitor core; the sockets and their authentication counts
    /// stay, so `rejected` and `handshake_failures` go on from where they were.
    func testAuthenticationCountsSurviveAReload() throws {
        guard ZMQSocket.hasCurve else { throw XCTSkip("libzmq without CURVE") }
        let c = try CurveDaemon(name: "curve-hup")
        defer { _ = c.stop() }
        let supervisor = try c.client(.subscriber, c.robot)
        let good = try c.client(.publisher, c.robot)
        let evil = try c.client(.publisher, c.stranger)   // refused by the ZAP handler: `rejected`
        let plain = try c.client(.publisher, nil)         // no CURVE at all: `handshake_failures`
        defer { for s in [supervisor, good, evil, plain] { s.close() } }
        var beat: [String: Any] = [:]
        func count(_ key: String) -> Int { beat[key] as? Int ?? 0 }
        let end = Deadline(seconds: 20)
        while !end.passed && !(count("rejected") > 0 && count("handshake_failures") > 0) {
            _ = try evil.send(stateFrames(666, 0), blocking: false)
            _ = try plain.send(stateFrames(667, 0), blocking: false)
            beat = try drain(supervisor).last { $0.topic == "heartbeat" }?.body ?? beat
        }
        let before = (rejected: count("rejected"), handshakeFailures: count("handshake_failures"))
        XCTAssertGreaterThan(before.rejected, 0, "a stranger's key is refused: \(beat)")
        XCTAssertGreaterThan(before.handshakeFailures, 0, "a keyless client fails its handshake: \(beat)")
        // The reloaded configuration names other intermediates: a verdict whose method says
        // so proves the new core is in, and the heartbeats after it come from that core.
        let text = try String(contentsOfFile: c.d.configPath, encoding: .utf8)
        // certify_first off: else CROWN's certificate answers first and the method says crown.
        try text.replacingOccurrences(of: "intermediates = \"crown\"", with: "intermediates = \"lp\"")
            .replacingOccurrences(of: "warm_start = true", with: "warm_start = true\ncertify_first = false")
            .write(toFile: c.d.configPath, atomically: true, encoding: .utf8)
        kill(c.d.process.processIdentifier, SIGHUP)
        var reloaded = false
        beat = [:]
        let reloadEnd = Deadline(seconds: 20)
        while !reloadEnd.passed && (!reloaded || beat.isEmpty) {
            _ = try good.send(stateFrames(1, 0.5), blocking: false)
            for m in try drain(supervisor) {
                if m.topic == "verdict", (m.body["method"] as? String)?.hasSuffix("/lp-intermediates") == true {
                    reloaded = true
                }
                if m.topic == "heartbeat", reloaded { beat = m.body }
            }
        }
        XCTAssertTrue(reloaded, "no lp verdict after SIGHUP: \(c.d.stderrText())")
        XCTAssertGreaterThanOrEqual(count("rejected"), before.rejected, "rejected after the reload: \(beat)")
        XCTAssertGreaterThanOrEqual(count("handshake_failures"), before.handshakeFailures,
                                    "handshake_failures after the reload: \(beat)")
    }
}
