import Foundation
import XCTest
import TestClock
import Transport

final class FaultTests: XCTestCase {
    /// A deadline far below a solve: the verdict still goes out (certified,
    /// from CROWN at least), flagged, and `deadline_misses` counts it.
    func testPastTheDeadlineTheCROWNVerdictGoesOutAndIsCounted() throws {
        let d = try DaemonHarness(deadlineMs: 0.1, name: "deadline")
        defer { _ = d.stop() }
        try d.handshake()
        try d.send(seq: 1, x: [2.75, 0], radius: [0.25, 0.25])
        try d.collect(seconds: 10) { m in m.contains { $0.topic == "verdict" && ($0.body["seq"] as? Int) == 1 } }
        let v = d.verdicts().first { ($0["seq"] as? Int) == 1 }
        XCTAssertEqual(v?["verdict"] as? String, "safe", "CROWN alone certifies this state")
        XCTAssertEqual(v?["deadline_missed"] as? Bool, true)
        XCTAssertLessThan(v?["latency_ms"] as? Double ?? 1e9, 250, "late by about one CROWN pass, not a full solve")
        try d.collect(seconds: 1) { _ in false }
        let hb = d.messages.last { $0.topic == "heartbeat" }?.body ?? [:]
        XCTAssertGreaterThanOrEqual(hb["deadline_misses"] as? Int ?? 0, 1)
    }

    /// SIGHUP: a good configuration is taken, a bad one refused with the key named, and the daemon goes on.
    func testSIGHUPReloadsAndRefusesABadConfiguration() throws {
        let d = try DaemonHarness(name: "hup")
        defer { _ = d.stop() }
        try d.handshake()
        let good = try String(contentsOfFile: d.configPath, encoding: .utf8)
        try good.replacingOccurrences(of: "heartbeat_ms = 100.0", with: "heartbeat_ms = 150")
            .write(toFile: d.configPath, atomically: true, encoding: .utf8)
        kill(d.process.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 1)
        try good.replacingOccurrences(of: "deadline_ms = 50.0", with: "deadline_ms = \"soon\"")
            .write(toFile: d.configPath, atomically: true, encoding: .utf8)
        kill(d.process.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 1)
        try d.send(seq: 7, x: [0.5, 0])
        try d.collect(seconds: 10) { m in m.contains { $0.topic == "verdict" && ($0.body["seq"] as? Int) == 7 } }
        XCTAssertEqual(d.verdicts().first { ($0["seq"] as? Int) == 7 }?["verdict"] as? String, "safe")
        XCTAssertEqual(d.stop(), 0)
        let log = d.stderrText()
        XCTAssertTrue(log.contains("reloaded"), log)
        XCTAssertTrue(log.contains("reload refused") && log.contains("[monitor] deadline_ms"), log)
    }

    /// The sensor publisher disappears and comes back: heartbeats go on, the daemon re-dials and answers again.
    func testSensorPublisherRestart() throws {
        let d = try DaemonHarness(name: "restart", sensorBind: false)
        defer { _ = d.stop() }
        try d.handshake()
        d.sensor.close()
        let before = d.messages.filter { $0.topic == "heartbeat" }.count
        try d.collect(seconds: 1.5) { _ in false }
        XCTAssertGreaterThan(d.messages.filter { $0.topic == "heartbeat" }.count, before + 3, "heartbeats go on")
        d.sensor = try ZMQSocket(context: d.context, kind: .publisher)
        _ = try d.sensor.bind("ipc://\(d.directory.path)/sensor")
        d.messages.removeAll()
        let ok = try d.collect(seconds: 20) { m in
            if m.contains(where: { $0.topic == "verdict" && ($0.body["seq"] as? Int) == 99 }) { return true }
            try? d.send(seq: 99, x: [0.3, 0])
            return false
        }
        XCTAssertTrue(ok, "no verdict after the publisher came back")
    }

    /// A truncated model at start-up stops it with the file named, before READY.
    func testTruncatedModelStopsTheStartNamingTheFile() throws {
        let truncated = repositoryRoot.appendingPathComponent("Tests/Fixtures/onnx/truncated.onnx").path
        let d = try DaemonHarness(name: "truncated", controller: truncated)
        d.process.waitUntilExit()
        XCTAssertEqual(d.process.terminationStatus, 1)
        let log = d.stderrText()
        XCTAssertTrue(log.contains("truncated.onnx"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d.directory.path + "/alerts"), "no partial start")
        _ = d.stop()
    }
}

final class StalledSupervisorTests: XCTestCase {
    /// A supervisor that stops reading never slows the solver: publishing does not
    /// block (libzmq drops for that subscriber at its high-water mark), and another
    /// supervisor keeps getting every verdict.
    func testAStalledSupervisorNeverBlocksPublishing() throws {
        let d = try DaemonHarness(name: "stalled", extra: "send_high_water_mark = 10")
        defer { _ = d.stop() }
        let stalled = try ZMQSocket(context: d.context, kind: .subscriber)
        try stalled.setReceiveHighWaterMark(1)
        try stalled.subscribe("")
        try stalled.connect("ipc://\(d.directory.path)/alerts")
        try d.handshake()
        let start = monotonicNow()
        let n = 300
        for s in 1...n {
            try d.send(seq: UInt64(s), x: [0.2, 0])
            // Paced so that the solver keeps up and nothing is skipped.
            try d.collect(seconds: 2) { m in m.contains { $0.topic == "verdict" && ($0.body["seq"] as? Int) == s } }
        }
        let elapsed = secondsSince(start)
        let answered = Set(d.verdicts().compactMap { $0["seq"] as? Int }.filter { $0 >= 1 && $0 <= n })
        XCTAssertEqual(answered.count, n, "the reading supervisor got every verdict")
        XCTAssertLessThan(elapsed, 60, "publishing did not block on the stalled supervisor")
        // What the stalled one holds is bounded by the high-water marks and the
        // kernel's socket buffer, not by what was published.
        var buffered = 0
        while (try stalled.receive(timeoutMilliseconds: 10)) != nil { buffered += 1 }
        print("stalled supervisor held \(buffered) of \(d.messages.count) messages")
        XCTAssertLessThan(buffered, d.messages.count, "past its high-water marks the stalled supervisor loses messages")
        XCTAssertGreaterThan(d.messages.filter { $0.topic == "heartbeat" }.count, 0)
        stalled.close()
    }
}
