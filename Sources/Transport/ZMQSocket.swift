import CZeroMQ
import Foundation

/// A PUB or SUB socket. Not `Sendable`: use it only on the thread that created it
/// (see `ZMQContext`). Closed by `close()` or `deinit`, so drop the last reference
/// on that thread too; the socket keeps its context alive until then.
public final class ZMQSocket {
    public enum Kind: Sendable {
        case publisher
        case subscriber
        /// REP, for the ZAP authentication handler.
        case reply
        /// PAIR, for reading a socket monitor's events.
        case pair
    }

    public let kind: Kind
    private let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?
    /// Heap-allocated so libzmq sees a stable, pointer-aligned zmq_msg_t.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    public init(context: ZMQContext, kind: Kind) throws {
        let type: Int32
        switch kind {
        case .publisher: type = ZMQ_PUB
        case .subscriber: type = ZMQ_SUB
        case .reply: type = ZMQ_REP
        case .pair: type = ZMQ_PAIR
        }
        let handle = try context.withHandle("zmq_socket") { ctx in
            guard let socket = zmq_socket(ctx, type) else { throw ZMQError.last("zmq_socket") }
            return socket
        }
        self.kind = kind
        self.context = context
        self.handle = handle
        self.message = .allocate(capacity: 1)
        // Never keep unsent messages around at close: a monitor's data is stale by
        // then, and a non-zero linger would make context termination wait for peers.
        try setOption(ZMQ_LINGER, Int32(0), "linger")
    }

    deinit {
        close()
        message.deallocate()
    }

    /// Closes the socket, discarding anything queued. Idempotent.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        _ = zmq_close(handle)
    }

    public var isClosed: Bool { handle == nil }

    // MARK: Endpoints

    /// Binds to `endpoint` (`tcp://127.0.0.1:5557`, `tcp://127.0.0.1:*` or `:0` for a
    /// free port, `ipc:///path`) and returns the endpoint actually bound.
    /// Note: an ipc bind replaces an existing socket file at that path.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        let handle = try live("bind \(endpoint)")
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
        return lastEndpoint ?? endpoint
    }

    /// Publishes this socket's handshake-failure events on the inproc `endpoint`
    /// (read them with a `.pair` socket connected there; see `HandshakeMonitor`).
    public func monitorHandshakeFailures(on endpoint: String) throws {
        let handle = try live("monitor \(endpoint)")
        let events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        guard zmq_socket_monitor(handle, endpoint, Int32(events)) == 0 else { throw ZMQError.last("monitor \(endpoint)") }
    }

    /// Connects to `endpoint`. Returns at once: libzmq connects (and reconnects)
    /// in the background, so messages published before the connection and
    /// subscription are established are lost (the "slow joiner").
    public func connect(_ endpoint: String) throws {
        let handle = try live("connect \(endpoint)")
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    /// Undoes `connect(endpoint)`, dropping its queued messages. Needed to recover
    /// after a protocol error (see `setMaximumMessageSize`): disconnect, then connect.
    public func disconnect(_ endpoint: String) throws {
        let handle = try live("disconnect \(endpoint)")
        guard zmq_disconnect(handle, endpoint) == 0 else { throw ZMQError.last("disconnect \(endpoint)") }
    }

    /// The last endpoint bound or connected, with a wildcard port resolved
    /// (ZMQ_LAST_ENDPOINT); nil when closed or before any bind/connect.
    public var lastEndpoint: String? {
        guard let handle else { return nil }
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return nil }
        buffer[buffer.count - 1] = 0
        let endpoint = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return endpoint.isEmpty ? nil : endpoint
    }

    // MARK: Options

    /// Receives only messages whose first frame starts with `topic` ("" = all).
    /// May be called several times; applies to current and future connections.
    public func subscribe(_ topic: String) throws {
        let handle = try live("subscribe \(topic)")
        let bytes = Array(topic.utf8)
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, ZMQ_SUBSCRIBE, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last("subscribe \(topic)") }
    }

    /// ZMQ_MAXMSGSIZE, checked per frame on receive, so a misbehaving peer cannot make
    /// us buffer unbounded memory. A larger frame is a protocol error: libzmq silently
    /// drops that connection with whatever was queued on it, and then
    /// - if this socket `connect`ed, libzmq (4.3) does NOT reconnect: that endpoint
    ///   stays silent until `disconnect(endpoint)` + `connect(endpoint)` (calling
    ///   `connect` again alone does not help), so pair it with a staleness timeout;
    /// - if this socket `bind`s, the connecting peer reconnects by itself (~100 ms).
    /// Set it before `connect`/`bind`; -1 means no limit.
    public func setMaximumMessageSize(_ bytes: Int64) throws {
        try setOption(ZMQ_MAXMSGSIZE, bytes, "maximum message size \(bytes)")
    }

    /// ZMQ_SNDHWM, in messages per peer (0 = unlimited). For a publisher, messages
    /// beyond it are dropped for that subscriber. Set it before `bind`/`connect`.
    public func setSendHighWaterMark(_ messages: Int) throws {
        try setOption(ZMQ_SNDHWM, try int32(messages, "send high-water mark"), "send high-water mark \(messages)")
    }

    /// ZMQ_RCVHWM, in messages per peer (0 = unlimited). Set it before `bind`/`connect`.
    public func setReceiveHighWaterMark(_ messages: Int) throws {
        try setOption(ZMQ_RCVHWM, try int32(messages, "receive high-water mark"), "receive high-water mark \(messages)")
    }

    /// Whether libzmq was built with CURVE encryption.
    public static var hasCurve: Bool { zmq_has("curve") != 0 }

    // MARK: Sending

    /// Sends one multipart message (ZMQ_SNDMORE on all but the last frame).
    ///
    /// With `blocking == false` (ZMQ_DONTWAIT) returns false when the socket would
    /// have had to wait, i.e. the message was dropped; callers count these. Note that
    /// a PUB socket never waits: at the high-water mark libzmq drops the message for
    /// that subscriber silently and this still returns true, so gaps are only
    /// visible to subscribers (e.g. by sequence numbers).
    /// Multipart messages are atomic: once the first frame is accepted, so are the rest.
    public func send<Frame: DataProtocol & ContiguousBytes>(_ frames: [Frame], blocking: Bool = false) throws -> Bool {
        let handle = try live("send")
        guard !frames.isEmpty else { throw ZMQError(code: EINVAL, operation: "send (no frames)") }
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = blocking ? 0 : ZMQ_DONTWAIT
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
                if rc >= 0 { break }
                let code = zmq_errno()
                if code == EINTR { continue }
                if code == EAGAIN && index == 0 { return false }
                throw ZMQError(code: code, operation: "send")
            }
        }
        return true
    }

    // MARK: Receiving

    /// Waits up to `timeoutMilliseconds` (negative = forever) for one message and
    /// returns all its frames, or nil on timeout. Throws `isTerminated` after
    /// `ZMQContext.shutdown()`. Signals (EINTR) do not cut the wait short.
    public func receive(timeoutMilliseconds: Int) throws -> [Data]? {
        let handle = try live("receive")
        let clock = ContinuousClock()
        let deadline = timeoutMilliseconds >= 0 ? clock.now + .milliseconds(timeoutMilliseconds) : nil
        while true {
            if let frames = try receiveMessage(handle, flags: ZMQ_DONTWAIT) { return frames }
            var wait = -1
            if let deadline {
                let remaining = deadline - clock.now
                if remaining <= .zero { return nil }
                let (seconds, attoseconds) = remaining.components
                wait = Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            }
            var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            if zmq_poll(&item, 1, wait) < 0 && zmq_errno() != EINTR {
                throw ZMQError.last("receive")
            }
        }
    }

    /// Returns every message already queued, oldest first, up to `limit`, without
    /// waiting (ZMQ_DONTWAIT), so a caller can drain a backlog and keep the newest.
    public func receiveAvailable(limit: Int) throws -> [[Data]] {
        let handle = try live("receive")
        var messages: [[Data]] = []
        while messages.count < limit, let frames = try receiveMessage(handle, flags: ZMQ_DONTWAIT) {
            messages.append(frames)
        }
        return messages
    }

    /// One whole multipart message, or nil when none is queued (EAGAIN).
    private func receiveMessage(_ handle: UnsafeMutableRawPointer, flags: Int32) throws -> [Data]? {
        guard var frame = try receiveFrame(handle, flags: flags) else { return nil }
        var frames = [frame.data]
        while frame.more {
            // The rest of a multipart message is delivered atomically with its first
            // frame, so waiting here cannot block for long.
            guard let next = try receiveFrame(handle, flags: 0) else {
                throw ZMQError(code: EAGAIN, operation: "receive (incomplete multipart message)")
            }
            frame = next
            frames.append(frame.data)
        }
        return frames
    }

    private func receiveFrame(_ handle: UnsafeMutableRawPointer, flags: Int32) throws -> (data: Data, more: Bool)? {
        while true {
            guard zmq_msg_init(message) == 0 else { throw ZMQError.last("receive") }
            defer { zmq_msg_close(message) }
            if zmq_msg_recv(message, handle, flags) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                if code == EAGAIN { return nil }
                throw ZMQError(code: code, operation: "receive")
            }
            let size = zmq_msg_size(message)
            let data = if size > 0, let bytes = zmq_msg_data(message) { Data(bytes: bytes, count: size) } else { Data() }
            return (data, zmq_msg_more(message) != 0)
        }
    }

    // MARK: Helpers

    private func live(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: ENOTSOCK, operation: "\(operation) (socket closed)") }
        return handle
    }

    /// Makes this socket the CURVE server (whether it binds or connects); clients
    /// must then present a key that the ZAP handler admits. Set before bind/connect.
    public func setCurveServer(secretKey: String) throws {
        try setOption(ZMQ_CURVE_SERVER, Int32(1), "curve server")
        try setKey(ZMQ_CURVE_SECRETKEY, secretKey, "curve secret key")
    }

    /// Makes this socket a CURVE client of the server with `serverKey`.
    public func setCurveClient(serverKey: String, publicKey: String, secretKey: String) throws {
        try setKey(ZMQ_CURVE_SERVERKEY, serverKey, "curve server key")
        try setKey(ZMQ_CURVE_PUBLICKEY, publicKey, "curve public key")
        try setKey(ZMQ_CURVE_SECRETKEY, secretKey, "curve secret key")
    }

    private func setKey(_ option: Int32, _ z85: String, _ operation: String) throws {
        let handle = try live(operation)
        guard z85.utf8.count == 40 else { throw ZMQError(code: EINVAL, operation: operation + " (a key is 40 Z85 characters)") }
        let rc = z85.withCString { zmq_setsockopt(handle, option, $0, 40) }
        guard rc == 0 else { throw ZMQError.last(operation) }
    }

    private func setOption<T>(_ option: Int32, _ value: T, _ operation: String) throws {
        let handle = try live(operation)
        var value = value
        let rc = withUnsafeBytes(of: &value) { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last(operation) }
    }

    private func int32(_ value: Int, _ operation: String) throws -> Int32 {
        guard let narrow = Int32(exactly: value) else { throw ZMQError(code: EINVAL, operation: "\(operation) \(value)") }
        return narrow
    }
}

// Sockets must stay on their creating thread; forbid any Sendable conformance.
@available(*, unavailable)
extension ZMQSocket: Sendable {}
