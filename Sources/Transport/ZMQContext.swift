import CZeroMQ
import Foundation

/// A libzmq context: the I/O threads shared by every socket made from it.
///
/// Threading rule: the context may be used from any thread, but each `ZMQSocket` is
/// used only by the thread that created it (libzmq sockets are not thread-safe).
/// To stop, call `shutdown()` from any thread: every blocking call on this context's
/// sockets then fails with `ZMQError.isTerminated`, each owner thread closes its
/// sockets, and the context is terminated when the last reference goes (or by
/// `terminate()`). This is what lets SIGTERM stop a daemon that is blocked in a
/// receive. `shutdown()` is not async-signal-safe: call it from a dispatch signal
/// source or a signal-handling thread, not from a raw signal handler.
///
/// `@unchecked Sendable`: libzmq documents contexts as thread-safe, and the only
/// Swift state (whether the handle has been terminated) is guarded by `lock`.
public final class ZMQContext: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var terminated = false

    public init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    /// Makes every current and future blocking operation on this context's sockets
    /// return `ETERM`. Does not wait; idempotent; safe from any thread.
    public func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        // After terminate() the handle is freed: shutting it down would be a use-after-free.
        if !terminated { _ = zmq_ctx_shutdown(handle) }
    }

    /// Destroys the context. Blocks until every socket made from it has been closed,
    /// so call `shutdown()` first and let the owner threads close their sockets.
    /// Sockets keep their context alive, so `deinit` never waits on an open socket.
    /// Idempotent.
    public func terminate() {
        lock.lock()
        if terminated {
            lock.unlock()
            return
        }
        terminated = true
        lock.unlock()
        // Outside the lock: zmq_ctx_term can block on other threads' sockets, and
        // they may need the lock meanwhile (socket creation checks it).
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit { terminate() }

    /// Runs `body` with the live handle; fails with `ETERM` once terminated, so no
    /// socket is ever created on a freed context.
    func withHandle<T>(_ operation: String, _ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard !terminated else { throw ZMQError(code: ETERM, operation: operation) }
        return try body(handle)
    }
}
