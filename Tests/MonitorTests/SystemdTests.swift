import Foundation
import TestClock
import XCTest
@testable import reachguardd

/// The notify protocol without systemd as PID 1: the test owns the datagram
/// socket named by NOTIFY_SOCKET and reads what the daemon sends.
final class NotifyListener: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes.prefix(raw.count - 1)) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, rc == 0 else { throw NSError(domain: "notify", code: Int(errno)) }
    }

    /// Datagrams received within `seconds`.
    func read(seconds: Double) -> [String] {
        var out: [String] = []
        let end = Deadline(seconds: seconds)
        while !end.passed {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) == 1 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { out.append(String(decoding: buffer.prefix(n), as: UTF8.self)) }
        }
        return out
    }

    /// Reads continuously on a thread, so the daemon's sd_notify never blocks on a full queue.
    private let lock = NSLock()
    private var received: [String] = []
    private var running = true

    func startDraining() {
        let t = Thread { [self] in
            while true {
                lock.lock(); let go = running; lock.unlock()
                if !go { break }
                let got = read(seconds: 0.05)
                lock.lock(); received += got; lock.unlock()
            }
        }
        t.start()
    }

    /// Datagrams drained since the last call, waiting `seconds` first.
    func take(after seconds: Double) -> [String] {
        Thread.sleep(forTimeInterval: seconds)
        lock.lock(); defer { lock.unlock() }
        let out = received
        received.removeAll()
        return out
    }

    func stop() { lock.lock(); running = false; lock.unlock() }

    deinit { close(fd) }
}

final class SystemdTests: XCTestCase {
    func testReadyWatchdogAndStatus() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rgd-notify-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let listener = try NotifyListener(directory: dir)
        let d = try DaemonHarness(heartbeatMs: 100, environment: [
            "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000",
        ], name: "notify")
        defer { _ = d.stop() }
        listener.startDraining()
        defer { listener.stop() }
        let first = listener.take(after: 3)
        XCTAssertTrue(first.contains("READY=1"), "\(first)")
        XCTAssertGreaterThanOrEqual(first.filter { $0 == "WATCHDOG=1" }.count, 4, "pings at half the 0.4 s interval")
        XCTAssertTrue(first.contains { $0.hasPrefix("STATUS=") }, "\(first)")
        if let ready = first.firstIndex(of: "READY=1"), let ping = first.firstIndex(of: "WATCHDOG=1") {
            XCTAssertLessThan(ready, ping, "READY=1 comes after the self-check, before the loop")
        }
    }

    /// The daemon's loop in this process, held in its `beforeSolve` hook as a hung solver
    /// would hold it: the pings stop, and come back once it lets go. In-process because the
    /// hook is a closure: the shipped binary has no switch that could hang it.
    func testAHungSolverStopsThePings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rgd-hang-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let listener = try NotifyListener(directory: dir)
        let hung = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let d = try DaemonHarness(heartbeatMs: 100, environment: [
            "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000",
        ], name: "hang") { daemon in
            daemon.beforeSolve = { m in
                guard m.seq == 5 else { return }
                hung.signal()
                release.wait()
            }
        }
        defer { XCTAssertEqual(d.stop(), 0, "the loop ends once the hook lets go") }
        defer { release.signal() }   // runs first: never leave the loop held
        listener.startDraining()
        defer { listener.stop() }
        try d.handshake()
        let before = listener.take(after: 1)
        XCTAssertGreaterThanOrEqual(before.filter { $0 == "WATCHDOG=1" }.count, 2, "pings before the hang: \(before)")
        try d.send(seq: 5, x: [0.1, 0])
        XCTAssertEqual(hung.wait(timeout: .now() + 10), .success, "the loop reached the hook with seq 5")
        _ = listener.take(after: 0.6)   // a ping already on its way
        let during = listener.take(after: 1.5)
        XCTAssertFalse(during.contains("WATCHDOG=1"), "a hung solver must stop the pings: \(during)")
        release.signal()
        let afterwards = listener.take(after: 1)
        XCTAssertTrue(afterwards.contains("WATCHDOG=1"), "pings resume once the solve returns: \(afterwards)")
    }

    /// `systemd-analyze verify` prints nothing for the unit (its ExecStart pointed at the built binary).
    func testUnitFileVerifiesWithoutWarnings() throws {
        let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let analyze else { throw XCTSkip("systemd-analyze is not installed (Debian package systemd)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rgd-unit-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let unit = try String(contentsOf: repositoryRoot.appendingPathComponent("Systemd/reachguardd.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/reachguardd", with: Bundle.main.bundleURL.appendingPathComponent("reachguardd").path)
        let path = dir.appendingPathComponent("reachguardd.service").path
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        for required in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes", "ProtectSystem=strict",
                         "ProtectHome=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=",
                         "MemoryDenyWriteExecute=yes", "LockPersonality=yes", "SystemCallFilter=@system-service",
                         "RuntimeDirectory=", "Environment=OPENBLAS_NUM_THREADS=1", "Environment=SWIFT_BACKTRACE=enable=no",
                         "TimeoutAbortSec=", "/etc/reachguard/"] {
            XCTAssertTrue(unit.contains(required), "the unit lacks \(required)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: analyze)
        p.arguments = ["verify", path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            + String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines), "", "systemd-analyze printed: \(text)")
    }
}
