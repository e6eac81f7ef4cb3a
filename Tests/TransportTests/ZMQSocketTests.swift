import Foundation
import XCTest
import TestClock
@testable import Transport

/// Real sockets on loopback only. Every wait is bounded by a deadline.
final class ZMQSocketTests: XCTestCase {
    private var context: ZMQContext!
    private var directory: URL!

    override func setUpWithError() throws {
        context = try ZMQContext()
        directory = try makeTemporaryDirectory(prefix: "rg-zmq")
    }

    override func tearDown() {
        context = nil  // sockets are locals, closed by now, so termination cannot wait
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: Helpers

    private func data(_ string: String) -> Data { Data(string.utf8) }

    /// A bound publisher and a subscriber connected to it, with the subscription
    /// known to be active (slow joiner) and warm-up messages drained.
    private func connectedPair(
        endpoint: String, topics: [String], subscriberBinds: Bool = false,
        configureSubscriber: (ZMQSocket) throws -> Void = { _ in },
        configurePublisher: (ZMQSocket) throws -> Void = { _ in }
    ) throws -> (pub: ZMQSocket, sub: ZMQSocket, endpoint: String) {
        let pub = try ZMQSocket(context: context, kind: .publisher)
        try configurePublisher(pub)
        let sub = try ZMQSocket(context: context, kind: .subscriber)
        try configureSubscriber(sub)
        for topic in topics + ["warmup"] { try sub.subscribe(topic) }
        let bound: String
        if subscriberBinds {
            bound = try sub.bind(endpoint)
            try pub.connect(bound)
        } else {
            bound = try pub.bind(endpoint)
            try sub.connect(bound)
        }
        XCTAssertTrue(try waitUntilDelivered(pub, sub, [data("warmup")]), "subscriber never joined \(bound)")
        while try sub.receive(timeoutMilliseconds: 100) != nil {}  // late warm-up copies
        return (pub, sub, bound)
    }

    /// Re-sends `frames` until the subscriber receives it (slow joiner, reconnects);
    /// every message received meanwhile goes to `seen`.
    private func waitUntilDelivered(
        _ pub: ZMQSocket, _ sub: ZMQSocket, _ frames: [Data], seconds: Double = 5,
        seen: ((([Data]) -> Void))? = nil
    ) throws -> Bool {
        let deadline = Deadline(seconds: seconds)
        while !deadline.passed {
            _ = try pub.send(frames)
            if let message = try sub.receive(timeoutMilliseconds: 50) {
                seen?(message)
                if message == frames { return true }
            }
        }
        return false
    }

    private func roundTrip(endpoint: String) throws {
        let (pub, sub, _) = try connectedPair(endpoint: endpoint, topics: ["state"])
        let big = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0) })  // not a "very small message"
        let frames = [data("state.x"), Data(), Data([0, 1, 0, 255]), big]
        XCTAssertTrue(try pub.send([data("other"), data("not for us")]))
        XCTAssertTrue(try pub.send(frames))
        XCTAssertTrue(try pub.send([data("state.last")], blocking: true))
        // One connection keeps order, so "other" would have arrived first.
        XCTAssertEqual(try sub.receive(timeoutMilliseconds: 2000), frames)
        XCTAssertEqual(try sub.receive(timeoutMilliseconds: 2000), [data("state.last")])
        XCTAssertNil(try sub.receive(timeoutMilliseconds: 100))
    }

    // MARK: Tests

    func testMultipartRoundTripWithTopicFilterOverTCP() throws {
        try roundTrip(endpoint: "tcp://127.0.0.1:*")
    }

    func testMultipartRoundTripWithTopicFilterOverIPC() throws {
        try roundTrip(endpoint: "ipc://\(directory.path)/pub.sock")
    }

    func testWildcardAndZeroPortsResolveToRealPorts() throws {
        for requested in ["tcp://127.0.0.1:*", "tcp://127.0.0.1:0"] {
            let pub = try ZMQSocket(context: context, kind: .publisher)
            let bound = try pub.bind(requested)
            XCTAssertEqual(pub.lastEndpoint, bound)
            XCTAssertTrue(bound.hasPrefix("tcp://127.0.0.1:"), bound)
            let port = Int(bound.split(separator: ":").last ?? "") ?? 0
            XCTAssertGreaterThan(port, 0, bound)
        }
    }

    func testReceiveTimesOutWithNil() throws {
        let sub = try ZMQSocket(context: context, kind: .subscriber)
        try sub.subscribe("")
        try sub.connect("tcp://127.0.0.1:1")  // nothing listens; libzmq just keeps retrying
        let start = monotonicNow()
        XCTAssertNil(try sub.receive(timeoutMilliseconds: 200))
        let elapsed = secondsSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.19)
        XCTAssertLessThan(elapsed, 1.5)
        XCTAssertNil(try sub.receive(timeoutMilliseconds: 0))
    }

    func testReceiveAvailableDrainsQueueOldestFirst() throws {
        let (pub, sub, _) = try connectedPair(endpoint: "tcp://127.0.0.1:*", topics: ["t"])
        XCTAssertEqual(try sub.receiveAvailable(limit: 10), [])
        for i in 0..<10 { XCTAssertTrue(try pub.send([data("t"), data("\(i)")])) }
        // Wait for the first one, then give the rest of the burst time to land.
        let first = try XCTUnwrap(try sub.receive(timeoutMilliseconds: 2000))
        Thread.sleep(forTimeInterval: 0.2)
        var messages = [first]
        let limited = try sub.receiveAvailable(limit: 3)
        XCTAssertEqual(limited.count, 3)
        messages += limited
        let rest = try sub.receiveAvailable(limit: 100)
        XCTAssertGreaterThan(rest.count, 1, "expected a backlog to drain in one call")
        messages += rest
        let deadline = Deadline(seconds: 2)  // only if the burst was split
        while messages.count < 10 && !deadline.passed {
            messages += try sub.receiveAvailable(limit: 100)
            if messages.count < 10, let one = try sub.receive(timeoutMilliseconds: 50) { messages.append(one) }
        }
        XCTAssertEqual(messages.map { $0.last }, (0..<10).map { data("\($0)") })
        XCTAssertEqual(messages.last?.last, data("9"), "newest is last")
        XCTAssertEqual(try sub.receiveAvailable(limit: 10), [])
    }

    /// libzmq 4.3.4 treats an oversized frame as a protocol error and drops the
    /// connection; the side that connected does not reconnect on its own.
    func testOversizedFrameIsNeverDeliveredAndConnectingSubscriberMustReconnect() throws {
        let limit = 1024
        let (pub, sub, endpoint) = try connectedPair(endpoint: "tcp://127.0.0.1:*", topics: ["m"]) {
            try $0.setMaximumMessageSize(Int64(limit))
        }
        XCTAssertTrue(try pub.send([data("m"), Data(count: limit)]))  // at the limit: fine
        XCTAssertEqual(try sub.receive(timeoutMilliseconds: 2000)?.last?.count, limit)

        XCTAssertTrue(try pub.send([data("m"), Data(repeating: 7, count: limit * 4)]))
        var received: [[Data]] = []
        let small = [data("m"), data("small")]
        XCTAssertFalse(try waitUntilDelivered(pub, sub, small, seconds: 1) { received.append($0) },
                       "libzmq now reconnects after a protocol error: update setMaximumMessageSize's doc")
        try sub.disconnect(endpoint)
        try sub.connect(endpoint)
        XCTAssertTrue(try waitUntilDelivered(pub, sub, small) { received.append($0) })
        XCTAssertTrue(received.allSatisfy { $0.allSatisfy { $0.count <= limit } }, "oversized frame delivered")
    }

    func testOversizedFrameToBindingSubscriberReconnectsByItself() throws {
        let limit = 1024
        let (pub, sub, _) = try connectedPair(
            endpoint: "ipc://\(directory.path)/sub.sock", topics: ["m"], subscriberBinds: true
        ) { try $0.setMaximumMessageSize(Int64(limit)) }

        XCTAssertTrue(try pub.send([data("m"), Data(repeating: 7, count: limit + 1)]))
        var received: [[Data]] = []
        XCTAssertTrue(try waitUntilDelivered(pub, sub, [data("m"), data("small")]) { received.append($0) })
        XCTAssertTrue(received.allSatisfy { $0.allSatisfy { $0.count <= limit } }, "oversized frame delivered")
    }

    func testNonBlockingSendWithoutSubscribersSucceeds() throws {
        let pub = try ZMQSocket(context: context, kind: .publisher)
        try pub.bind("tcp://127.0.0.1:*")
        let start = monotonicNow()
        for i in 0..<1000 {
            XCTAssertTrue(try pub.send([data("t"), data("\(i)")]))
        }
        XCTAssertLessThan(secondsSince(start), 2)
    }

    /// PUB at the high-water mark drops silently: send neither blocks nor reports
    /// the drop, so only the subscriber can see the gap.
    func testPublisherAtHighWaterMarkDropsWithoutBlocking() throws {
        let (pub, sub, _) = try connectedPair(
            endpoint: "tcp://127.0.0.1:*", topics: ["h"],
            configureSubscriber: { try $0.setReceiveHighWaterMark(10) },
            configurePublisher: { try $0.setSendHighWaterMark(10) })
        let payload = Data(count: 10_000)
        let sent = 5_000  // 50 MB: far more than the HWMs plus loopback socket buffers
        var refused = 0
        let start = monotonicNow()
        for _ in 0..<sent where !(try pub.send([data("h"), payload])) { refused += 1 }
        XCTAssertLessThan(secondsSince(start), 10)
        XCTAssertEqual(refused, 0, "libzmq PUB never reports EAGAIN")
        var received = 0
        while true {  // ends: at most `sent` messages exist
            let batch = try sub.receiveAvailable(limit: 1000)
            received += batch.count
            if batch.isEmpty {
                guard try sub.receive(timeoutMilliseconds: 200) != nil else { break }
                received += 1
            }
        }
        XCTAssertGreaterThan(received, 0)
        XCTAssertLessThan(received, sent)
    }

    func testContextShutdownUnblocksReceiverOnAnotherThread() throws {
        let context = try XCTUnwrap(self.context)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        let thread = Thread {
            // Created, used and closed on this thread only.
            do {
                let sub = try ZMQSocket(context: context, kind: .subscriber)
                defer { sub.close() }
                try sub.subscribe("")
                try sub.connect("tcp://127.0.0.1:1")
                started.signal()
                // Bounded, so a broken shutdown fails the test instead of hanging it.
                let message = try sub.receive(timeoutMilliseconds: 10_000)
                outcome.set(message == nil ? "timeout" : "message")
            } catch let error as ZMQError {
                outcome.set(error.isTerminated ? "terminated" : "error \(error)")
            } catch {
                outcome.set("error \(error)")
            }
            started.signal()  // in case setup failed before the first signal
            finished.signal()
        }
        thread.start()
        XCTAssertEqual(started.wait(timeout: .now() + 5), .success)
        Thread.sleep(forTimeInterval: 0.2)  // let it block in zmq_poll
        let start = monotonicNow()
        context.shutdown()
        XCTAssertEqual(finished.wait(timeout: .now() + 12), .success)
        XCTAssertLessThan(secondsSince(start), 1)
        XCTAssertEqual(outcome.value, "terminated")
        context.terminate()  // the thread closed its socket, so this returns at once
        XCTAssertThrowsError(try ZMQSocket(context: context, kind: .publisher)) {
            XCTAssertTrue(($0 as? ZMQError)?.isTerminated == true, "\($0)")
        }
    }

    func testBindToEndpointInUseNamesTheEndpoint() throws {
        let first = try ZMQSocket(context: context, kind: .publisher)
        let endpoint = try first.bind("tcp://127.0.0.1:*")
        let second = try ZMQSocket(context: context, kind: .publisher)
        XCTAssertThrowsError(try second.bind(endpoint)) { error in
            guard let error = error as? ZMQError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, EADDRINUSE)
            XCTAssertFalse(error.isTerminated)
            XCTAssertEqual(error.description, "bind \(endpoint): Address already in use")
        }
    }

    func testConnectToMalformedEndpointThrows() throws {
        let sub = try ZMQSocket(context: context, kind: .subscriber)
        XCTAssertThrowsError(try sub.connect("nonsense://x")) {
            XCTAssertTrue("\($0)".hasPrefix("connect nonsense://x: "), "\($0)")
        }
    }

    func testCloseIsIdempotentAndLaterCallsThrow() throws {
        let pub = try ZMQSocket(context: context, kind: .publisher)
        try pub.bind("tcp://127.0.0.1:*")
        pub.close()
        pub.close()
        XCTAssertTrue(pub.isClosed)
        XCTAssertNil(pub.lastEndpoint)
        XCTAssertThrowsError(try pub.send([Data([1])]))
        XCTAssertThrowsError(try pub.receive(timeoutMilliseconds: 0))
    }

    func testEmptyMessageAndBadOptionsAreRejected() throws {
        let pub = try ZMQSocket(context: context, kind: .publisher)
        XCTAssertThrowsError(try pub.send([Data]()))
        XCTAssertThrowsError(try pub.setSendHighWaterMark(Int(Int32.max) + 1))
        XCTAssertTrue(try pub.send([[UInt8]]([[1, 2], []])))  // [[UInt8]] frames work too
    }

    /// Z85 uses `#`, so keys may contain it; such keys are keys, not comments.
    func testAuthorizedKeysFileAcceptsKeysContainingHashAndRejectsGarbage() throws {
        guard ZMQSocket.hasCurve else { throw XCTSkip("libzmq without CURVE") }
        // Draw key pairs until some public keys contain '#' (about 2 in 5 do).
        var withHash: [String] = [], plain: String? = nil
        for _ in 0..<5000 where withHash.count < 4 || plain == nil {
            let k = try ZMQCurve.keyPair().publicKey
            if k.contains("#") { withHash.append(k) } else { plain = k }
        }
        let first = withHash[3], clean = try XCTUnwrap(plain)
        XCTAssertTrue(ZMQCurve.isZ85Key(first))
        XCTAssertFalse(ZMQCurve.isZ85Key(String(clean.dropLast()) + "~"), "'~' is not Z85")
        let dir = try makeTemporaryDirectory(prefix: "rg-keys")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("authorized_keys")
        let text = """
            # the robot and its supervisor

            \(first)
              \(withHash[0])   # the supervisor
            \(withHash[1])\t# tab before the comment
            \(withHash[2])
            \(clean)
            #
            """
        try text.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ZMQCurve.readAuthorizedKeys(path: file.path), Set([first, clean] + withHash.prefix(3)))

        try (text + "\n" + String(clean.dropLast()) + "\n").write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ZMQCurve.readAuthorizedKeys(path: file.path)) { error in
            XCTAssertTrue("\(error)".contains("authorized_keys:9:"), "names the line: \(error)")
        }
        XCTAssertThrowsError(try ZMQCurve.readAuthorizedKeys(path: dir.appendingPathComponent("absent").path))
    }
}

/// A result handed from the receiver thread back to the test.
private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ value: String) { lock.withLock { stored = value } }
    var value: String? { lock.withLock { stored } }
}
