import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A failed libzmq call: the errno libzmq reported, its `zmq_strerror` text, and
/// what we were doing ("bind tcp://127.0.0.1:5557: Address already in use").
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The errno value (POSIX, or libzmq's own such as `ETERM`).
    public let code: Int32
    /// `zmq_strerror(code)`.
    public let message: String
    /// The operation, with its endpoint where there is one: "bind tcp://127.0.0.1:5557".
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
        self.message = zmq_strerror(code).map { String(cString: $0) } ?? "error \(code)"
    }

    /// The error libzmq just reported for `operation` (reads `zmq_errno()`).
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    /// The context was shut down or terminated: the owning thread should close its
    /// sockets and exit its loop rather than report a failure.
    public var isTerminated: Bool { code == ETERM }

    public var description: String { "\(operation): \(message)" }
}
