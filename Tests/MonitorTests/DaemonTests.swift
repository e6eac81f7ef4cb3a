import Foundation
import Logging
import Monitor
import TestClock
import Transport
import XCTest
@testable import reachguardd

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A harness step that did not happen, with what the daemon said.
struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
}

/// reachguardd's own loop on a thread of this process, for what a separate process
/// cannot be given: a hook closure on the `Daemon` (see `Daemon.beforeSolve`).
final class InProcessDaemon: @unchecked Sendable {
    // @unchecked: `daemon` is touched by the loop thread only once `start()` has run.
    let daemon: Daemon
    let stop = StopFlag()
    let context: ZMQContext
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var error: Error?
    private var done = false
    private var joined = false   // read and written by the test's thread only

    init(configPath: String) throws {
        context = try ZMQContext()
        let configuration = try MonitorConfiguration.load(path: configPath)
        daemon = try Daemon(configuration: configuration, path: configPath, context: context,
                            logger: Logger(label: "reachguardd-in-process"))
    }

    func start() {
        Thread { [self] in
            let failure: Error?
            do { try daemon.run(stop: stop); failure = nil } catch { failure = error }
            lock.lock(); self.error = failure; done = true; lock.unlock()
            finished.signal()
        }.start()
    }

    var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return !done }

    /// Stops the loop: 0 after a clean stop, 1 when `run` threw, -1 when it did not end in
    /// time. A second call answers at once (tests stop in a `defer` and in an assertion).
    func finish(seconds: Double) -> Int32 {
        stop.set()
        if !joined {
            guard finished.wait(timeout: .now() + seconds) == .success else { return -1 }
            joined = true
            context.shutdown()
        }
        lock.lock(); defer { lock.unlock() }
        return error == nil ? 0 : 1
    }
}

/// Reads a child's stderr as it comes, so a chatty daemon never blocks on a full pipe.
final class PipeDrain: @unchecked Sendable {
    // @unchecked: `text` is guarded by `lock`; the reader thread only appends.
    let pipe = Pipe()
    private let lock = NSLock()
    private var text = Data()
    private let ended = DispatchSemaphore(value: 0)
    private var sawEnd = false   // the test's thread only

    func start() {
        Thread { [self] in
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                lock.lock(); text.append(chunk); lock.unlock()
            }
            ended.signal()
        }.start()
    }

    /// Everything written, once the writer has closed its end (or after `seconds`).
    func all(seconds: Double = 5) -> String {
        if !sawEnd { sawEnd = ended.wait(timeout: .now() + seconds) == .success }
        lock.lock(); defer { lock.unlock() }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A real `reachguardd` on ipc:// endpoints in a temp folder, with a test publisher
/// on its sensor endpoint and a subscriber on its alerts: the built binary as a child
/// process, or, given `inProcess`, the same loop on a thread here (the closure sets
/// its hooks; `environment` is then set in this process until `stop()`, which is
/// safe because XCTest runs one test at a time).
final class DaemonHarness {
    let directory: URL
    let process = Process()
    let inProcess: InProcessDaemon?
    let context: ZMQContext
    var sensor: ZMQSocket
    let alerts: ZMQSocket
    let stderrDrain = PipeDrain()
    var messages: [(topic: String, body: [String: Any])] = []
    /// The JSON text of each message, in the order of `messages`.
    var texts: [String] = []
    var nextProbe: UInt64 = 1_000_000
    private var savedEnvironment: [String: String?] = [:]

    let configPath: String
    let sensorBind: Bool

    init(deadlineMs: Double = 50, heartbeatMs: Double = 100, environment: [String: String] = [:], name: String,
         sensorBind: Bool = true, controller: String? = nil, extra: String = "",
         example: String = "double_integrator", inProcess configure: ((Daemon) -> Void)? = nil) throws {
        self.sensorBind = sensorBind
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rgd-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configPath = directory.appendingPathComponent("reachguardd.toml").path
        try Self.configuration(directory: directory, deadlineMs: deadlineMs, heartbeatMs: heartbeatMs,
                               sensorBind: sensorBind, controller: controller, extra: extra, example: example)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        if let configure {
            for (k, v) in environment {
                savedEnvironment[k] = ProcessInfo.processInfo.environment[k]
                setenv(k, v, 1)
            }
            let daemon = try InProcessDaemon(configPath: configPath)
            configure(daemon.daemon)
            daemon.start()
            inProcess = daemon
        } else {
            inProcess = nil
            try Self.launch(process, configPath: configPath, environment: environment, stderr: stderrDrain.pipe)
            stderrDrain.start()
        }
        // Connect once the daemon has bound both endpoints (connecting earlier
        // relies on libzmq's reconnect timer, which made this harness flaky).
        let deadline = Deadline(seconds: 30)
        while !deadline.passed && (inProcess?.isRunning ?? process.isRunning)
                && !((!sensorBind || FileManager.default.fileExists(atPath: directory.path + "/sensor"))
                     && FileManager.default.fileExists(atPath: directory.path + "/alerts")) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        context = try ZMQContext()
        sensor = try ZMQSocket(context: context, kind: .publisher)
        alerts = try ZMQSocket(context: context, kind: .subscriber)
        try alerts.subscribe("")
        try alerts.connect("ipc://\(directory.path)/alerts")
        try sensor.setSendHighWaterMark(100_000)
        let sensorEndpoint = "ipc://\(directory.path)/sensor"
        if sensorBind { try sensor.connect(sensorEndpoint) } else { try sensor.bind(sensorEndpoint) }
    }

    /// An example's system file (Config/<example>) with [monitor] and [zmq] on ipc:// endpoints in `directory`.
    static func configuration(directory: URL, deadlineMs: Double, heartbeatMs: Double, sensorBind: Bool,
                              controller: String?, extra: String, example: String) throws -> String {
        let folder = repositoryRoot.appendingPathComponent("Config/\(example)")
        let source = try String(contentsOf: folder.appendingPathComponent("system.toml"), encoding: .utf8)
        let model = controller ?? folder.path + "/controller.onnx"
        let system = source.components(separatedBy: "# --- reachguardd")[0]
            .replacingOccurrences(of: "model = \"controller.onnx\"", with: "model = \"\(model)\"")
        return system + """

        [monitor]
        deadline_ms = \(deadlineMs)
        heartbeat_ms = \(heartbeatMs)
        warm_start = true
        intermediates = "crown"
        max_payload_bytes = 4096

        [zmq]
        sensor_endpoint = "ipc://\(directory.path)/sensor"
        sensor_bind = \(sensorBind)
        sensor_reconnect_ms = 500
        sensor_topic = "state"
        alert_endpoint = "ipc://\(directory.path)/alerts"
        \(extra)
        """
    }

    /// The built reachguardd as a child process (static: called before `init` is done).
    private static func launch(_ process: Process, configPath: String, environment: [String: String],
                               stderr: Pipe) throws {
        process.executableURL = Bundle.main.bundleURL.appendingPathComponent("reachguardd")
        process.arguments = ["--config", configPath]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { inProcess?.isRunning ?? process.isRunning }

    func send(_ frames: [Data]) throws { _ = try sensor.send(frames, blocking: true) }

    func send(seq: UInt64, x: [Double], radius: [Double]? = nil) throws {
        var body: [String: Any] = ["seq": seq, "stamp": Double(seq) * 0.01, "x": x]
        if let radius { body["radius"] = radius }
        try send([Data("state".utf8), try JSONSerialization.data(withJSONObject: body)])
    }

    /// Collects messages until `done` holds or the time runs out.
    @discardableResult
    func collect(seconds: Double, until done: ([(topic: String, body: [String: Any])]) -> Bool) throws -> Bool {
        let end = Deadline(seconds: seconds)
        while !end.passed {
            if done(messages) { return true }
            guard let f = try alerts.receive(timeoutMilliseconds: 50), f.count == 2 else { continue }
            let body = (try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any]) ?? [:]
            messages.append((String(decoding: f[0], as: UTF8.self), body))
            texts.append(String(decoding: f[1], as: UTF8.self))
        }
        return done(messages)
    }

    /// Waits until the daemon is up and both links carry messages: probes until one is answered.
    func handshake() throws {
        let ok = try collect(seconds: 30) { msgs in
            if msgs.contains(where: { $0.topic == "verdict" && ($0.body["seq"] as? UInt64 ?? 0) >= 1_000_000 }) { return true }
            try? self.send(seq: self.nextProbe, x: [0, 0])
            self.nextProbe += 1
            return false
        }
        guard ok else { throw HarnessFailure(description: "the daemon never answered: \(stderrText())") }
    }

    /// The newest heartbeat once the counters stop moving (two in a row with the same
    /// `received`): the probes of `handshake()` have all been counted by then.
    func settledHeartbeat(seconds: Double = 10) throws -> [String: Any] {
        var seen = messages.filter { $0.topic == "heartbeat" }.count
        var previous: Int? = nil
        var last: [String: Any] = [:]
        let settled = try collect(seconds: seconds) { m in
            let beats = m.filter { $0.topic == "heartbeat" }
            guard beats.count > seen, let hb = beats.last?.body else { return false }
            seen = beats.count
            defer { previous = hb["received"] as? Int; last = hb }
            return previous != nil && previous == hb["received"] as? Int
        }
        guard settled else { throw HarnessFailure(description: "the counters never settled: \(last)") }
        return last
    }

    func verdicts(topic: String = "verdict") -> [[String: Any]] { messages.filter { $0.topic == topic }.map(\.body) }

    func stderrText() -> String {
        if inProcess != nil { return "(in-process daemon: its log is in this test's output)" }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return stderrDrain.all()
    }

    func stop() -> Int32 {
        let status = inProcess.map { $0.finish(seconds: 10) } ?? stopProcess()
        for (k, v) in savedEnvironment {
            if let v { setenv(k, v, 1) } else { unsetenv(k) }
        }
        savedEnvironment.removeAll()
        guard status != -1 else { return -1 }
        sensor.close()
        alerts.close()
        context.shutdown()
        try? FileManager.default.removeItem(at: directory)
        return status
    }

    private func stopProcess() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let end = Deadline(seconds: 10)
        while process.isRunning && !end.passed { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return -1 }
        return process.terminationStatus
    }
}

final class DaemonTests: XCTestCase {
    func testVerdictsForKnownSafeAndUnsafeStates() throws {
        let d = try DaemonHarness(name: "verdicts")
        defer { _ = d.stop() }
        try d.handshake()
        // Safe: the reference set (exact margin 0.75 to x0 >= 3.5).
        try d.send(seq: 1, x: [2.75, 0], radius: [0.25, 0.25])
        // One at a time: sent together, the newer would win and seq 1 be skipped.
        try d.collect(seconds: 20) { m in m.contains { $0.topic == "verdict" && ($0.body["seq"] as? Int) == 1 } }
        // Unsafe: the sensed state is already past x0 = 3.5.
        try d.send(seq: 2, x: [3.7, 0.5], radius: [0.05, 0.05])
        try d.collect(seconds: 20) { m in m.contains { $0.topic == "alert" && ($0.body["seq"] as? Int) == 2 } }
        let v = d.verdicts()
        let first = v.first { ($0["seq"] as? Int) == 1 }
        let second = v.first { ($0["seq"] as? Int) == 2 }
        XCTAssertEqual(first?["verdict"] as? String, "safe")
        XCTAssertEqual((first?["margins"] as? [Any])?.count, 7)
        XCTAssertNotNil(first?["latency_ms"] as? Double)
        XCTAssertEqual(second?["verdict"] as? String, "unsafe")
        XCTAssertEqual(second?["first_unsafe_step"] as? Int, 0)
        let alerts = d.verdicts(topic: "alert").compactMap { $0["seq"] as? Int }
        XCTAssertTrue(alerts.contains(2))
        XCTAssertFalse(alerts.contains(1), "no alert for a safe verdict")
    }

    /// A burst faster than the solve rate: every seq is answered or counted as
    /// skipped, and the skipped ones are exactly the seqs without a verdict.
    func testBurstAccountsForEverySeq() throws {
        let d = try DaemonHarness(name: "burst")
        defer { _ = d.stop() }
        try d.handshake()
        // Baseline: let the probes settle, then read the counters.
        d.messages.removeAll()
        try d.collect(seconds: 0.5) { _ in false }
        let base = d.messages.last(where: { $0.topic == "heartbeat" })?.body ?? [:]
        let baseReceived = base["received"] as? Int ?? 0
        let baseSkipped = base["skipped"] as? Int ?? 0
        let n: UInt64 = 400
        for s in 1...n { try d.send(seq: s, x: [Double(s % 7) * 0.3 - 1, 0.1], radius: [0.05, 0.05]) }
        var last: [String: Any] = [:]
        let ok = try d.collect(seconds: 60) { m in
            guard let hb = m.last(where: { $0.topic == "heartbeat" })?.body else { return false }
            last = hb
            return (hb["received"] as? Int) == baseReceived + Int(n)
        }
        XCTAssertTrue(ok, "received \(last["received"] ?? "?") of \(baseReceived + Int(n))")
        try d.collect(seconds: 0.5) { _ in false }   // one more heartbeat window
        let hb = d.messages.last(where: { $0.topic == "heartbeat" })?.body ?? [:]
        let received = hb["received"] as? Int ?? -1
        let processed = hb["processed"] as? Int ?? -1
        let skipped = hb["skipped"] as? Int ?? -1
        let invalid = hb["invalid"] as? Int ?? -1
        XCTAssertEqual(received, baseReceived + Int(n))
        XCTAssertEqual(received, processed + skipped + invalid, "counters add up")
        let answered = Set(d.verdicts().compactMap { $0["seq"] as? UInt64 }.filter { $0 >= 1 && $0 <= n })
        XCTAssertTrue(answered.contains(n), "the newest state is always solved")
        let unanswered = (1...n).filter { !answered.contains($0) }
        XCTAssertEqual(unanswered.count, skipped - baseSkipped, "skipped = seqs without a verdict")
        XCTAssertGreaterThan(skipped - baseSkipped, 0, "a burst must outrun the solver")
        XCTAssertEqual(invalid, 0)
    }

    func testBadInputGetsInvalidVerdictsAndTheDaemonGoesOn() throws {
        let d = try DaemonHarness(name: "bad")
        defer { _ = d.stop() }
        try d.handshake()
        let topic = Data("state".utf8)
        let bad: [[Data]] = [
            [topic, Data("not json".utf8)],
            [topic, Data(#"{"stamp": 1, "x": [0, 0]}"#.utf8)],
            [topic, Data(#"{"seq": 11, "stamp": 1, "x": [0, 0, 0]}"#.utf8)],
            [topic, Data(#"{"seq": 12, "stamp": 1, "x": [NaN, 0]}"#.utf8)],
            [topic, Data(#"{"seq": 13, "stamp": 1, "x": [0, Infinity]}"#.utf8)],
            [topic, Data(#"{"seq": 14, "stamp": 1, "x": [0, 0], "radius": [-1, 0]}"#.utf8)],
            [topic, Data(repeating: UInt8(ascii: " "), count: 8000)],
            [topic],
        ]
        for f in bad {
            try d.send(f)
            Thread.sleep(forTimeInterval: 0.05)   // one at a time, so none is skipped
        }
        try d.send(seq: 20, x: [0.5, 0])
        let ok = try d.collect(seconds: 20) { m in
            m.filter { $0.topic == "verdict" && $0.body["verdict"] as? String == "invalid" }.count >= bad.count
                && m.contains { $0.topic == "verdict" && ($0.body["seq"] as? Int) == 20 }
        }
        XCTAssertTrue(ok)
        let invalid = d.verdicts().filter { $0["verdict"] as? String == "invalid" }
        let errors = invalid.compactMap { $0["error"] as? String }
        for want in ["not JSON", "missing 'seq'", "has 3 values", "x[0] is nan", "x[1] is inf", "radius[0] is negative", "exceeds 4096", "expected 2 frames"] {
            XCTAssertTrue(errors.contains { $0.contains(want) }, "no invalid verdict saying '\(want)': \(errors)")
        }
        XCTAssertEqual(Set(invalid.compactMap { $0["seq"] as? Int }), [11, 12, 13, 14])
        XCTAssertEqual(d.verdicts(topic: "alert").filter { $0["verdict"] as? String == "invalid" }.count, bad.count)
        XCTAssertEqual(d.verdicts().first { ($0["seq"] as? Int) == 20 }?["verdict"] as? String, "safe")
    }

    func testSIGTERMShutsDownCleanlyWithAFinalHeartbeat() throws {
        let d = try DaemonHarness(heartbeatMs: 5000, name: "term")
        try d.handshake()
        let before = d.messages.filter { $0.topic == "heartbeat" }.count
        kill(d.process.processIdentifier, SIGTERM)
        let start = monotonicNow()
        try d.collect(seconds: 5) { m in m.filter { $0.topic == "heartbeat" }.count > before }
        XCTAssertGreaterThan(d.messages.filter { $0.topic == "heartbeat" }.count, before, "the last counters are flushed")
        XCTAssertEqual(d.stop(), 0)
        XCTAssertLessThan(secondsSince(start), 5)
    }

    func testCheckRefusesABadConfigurationNamingTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rgd-check-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("bad.toml").path
        try "[plant]\nA = [[1.0]]\n[sensor]\nradius = [0.1]\n[monitor]\ndeadline_ms = -3\n".write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = Bundle.main.bundleURL.appendingPathComponent("reachguardd")
        p.arguments = ["--config", path, "--check"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("[monitor] deadline_ms"), text)
    }
}
