import Foundation
import XCTest
@testable import Transport

/// Plays the service manager: a Unix datagram socket standing in for NOTIFY_SOCKET.
final class SystemdNotifierTests: XCTestCase {
    private static let variables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]
    private var savedEnvironment: [String: String?] = [:]
    private var directory: URL?
    private var listener: Int32 = -1

    override func setUp() {
        for name in Self.variables {
            savedEnvironment[name] = getenv(name).map { String(cString: $0) }
        }
    }

    override func tearDown() {
        for (name, value) in savedEnvironment {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
        if listener >= 0 { close(listener) }
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Binds a datagram socket under a fresh temp dir and returns its path.
    private func makeListener() throws -> String {
        let dir = try makeTemporaryDirectory(prefix: "rg-sd")
        directory = dir
        let path = dir.path + "/notify.sock"

        listener = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(listener, 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        XCTAssertLessThan(bytes.count, capacity)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes.prefix(capacity - 1))
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        XCTAssertEqual(rc, 0, "bind \(path): \(String(cString: strerror(errno)))")
        return path
    }

    /// One datagram, or nil after a bounded wait.
    private func readDatagram(timeoutMilliseconds: Int32 = 2000) -> String? {
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(listener, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    func testNotificationsReachTheNotifySocket() throws {
        let path = try makeListener()
        setenv("NOTIFY_SOCKET", path, 1)

        XCTAssertTrue(SystemdNotifier.ready())
        XCTAssertEqual(readDatagram(), "READY=1")
        XCTAssertTrue(SystemdNotifier.status("x"))
        XCTAssertEqual(readDatagram(), "STATUS=x")
        XCTAssertTrue(SystemdNotifier.watchdog())
        XCTAssertEqual(readDatagram(), "WATCHDOG=1")
        XCTAssertTrue(SystemdNotifier.status("two\nlines"))
        XCTAssertEqual(readDatagram(), "STATUS=two lines")
        XCTAssertTrue(SystemdNotifier.stopping())
        XCTAssertEqual(readDatagram(), "STOPPING=1")
        XCTAssertEqual(getenv("NOTIFY_SOCKET").map { String(cString: $0) }, path, "must not unset it")
    }

    func testNotifyWithoutNotifySocketReturnsFalse() {
        unsetenv("NOTIFY_SOCKET")
        XCTAssertFalse(SystemdNotifier.notify("READY=1"))
        XCTAssertFalse(SystemdNotifier.ready())
        XCTAssertFalse(SystemdNotifier.watchdog())
    }

    func testWatchdogInterval() {
        setenv("WATCHDOG_USEC", "2000000", 1)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        XCTAssertEqual(SystemdNotifier.watchdogInterval, 2.0)

        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)  // meant for another process
        XCTAssertNil(SystemdNotifier.watchdogInterval)

        unsetenv("WATCHDOG_PID")
        unsetenv("WATCHDOG_USEC")
        XCTAssertNil(SystemdNotifier.watchdogInterval)
    }
}
