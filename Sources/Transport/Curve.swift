import CZeroMQ
import Foundation

/// CURVE keys (Z85 text, 40 characters) and files.
public enum ZMQCurve {
    /// Text of a NUL-terminated C buffer.
    static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func keyPair() throws -> (publicKey: String, secretKey: String) {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError.last("curve keypair") }
        return (text(pub), text(sec))
    }

    public static func publicKey(fromSecret secret: String) throws -> String {
        guard secret.utf8.count == 40 else { throw ZMQError(code: EINVAL, operation: "curve public key (a key is 40 Z85 characters)") }
        var pub = [CChar](repeating: 0, count: 41)
        let rc = secret.withCString { zmq_curve_public(&pub, $0) }
        guard rc == 0 else { throw ZMQError.last("curve public key") }
        return text(pub)
    }

    /// Z85 of 32 raw key bytes (as ZAP requests carry them).
    public static func z85(_ raw: Data) -> String? {
        guard raw.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        let ok = raw.withUnsafeBytes { p -> Bool in
            guard let base = p.bindMemory(to: UInt8.self).baseAddress else { return false }
            return zmq_z85_encode(&out, base, 32) != nil
        }
        return ok ? text(out) : nil
    }

    /// The secret key on the first line of a key file.
    public static func readSecretKey(path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ZMQError(code: ENOENT, operation: "read secret key \(path)")
        }
        let key = text.split(separator: "\n", omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard key.utf8.count == 40 else { throw ZMQError(code: EINVAL, operation: "\(path): the first line is not a 40-character Z85 key") }
        _ = try publicKey(fromSecret: key)
        return key
    }

    /// Whether `key` is 40 characters of valid Z85 (32 bytes).
    public static func isZ85Key(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var raw = [UInt8](repeating: 0, count: 32)
        return key.withCString { zmq_z85_decode(&raw, $0) } != nil
    }

    /// Public keys, one per line, each optionally followed by a space and a
    /// comment; blank lines and other lines starting with `#` are ignored.
    /// `#` is one of the 85 Z85 characters, so a key may contain it (about 2
    /// keys in 5 do): a line is a key when its first word is a valid key.
    public static func readAuthorizedKeys(path: String) throws -> Set<String> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ZMQError(code: ENOENT, operation: "read authorized keys \(path)")
        }
        var keys = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            let line = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
            if isZ85Key(line) { keys.insert(line); continue }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            throw ZMQError(code: EINVAL, operation: "\(path):\(i + 1): not a 40-character Z85 public key")
        }
        return keys
    }
}

/// A ZAP handler (RFC 27) on its own thread: admits CURVE clients whose public
/// key is authorized, refuses everyone else, and counts both.
public final class ZAPAuthenticator: @unchecked Sendable {
    private let lock = NSLock()
    private var _accepted = 0
    private var _rejected = 0
    private var running = true
    private let authorized: Set<String>

    public var accepted: Int { lock.lock(); defer { lock.unlock() }; return _accepted }
    public var rejected: Int { lock.lock(); defer { lock.unlock() }; return _rejected }

    public init(context: ZMQContext, authorizedKeys: Set<String>) throws {
        authorized = authorizedKeys
        let ready = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        let body: @Sendable () -> Void = { [self] in
            let socket: ZMQSocket
            do {
                socket = try ZMQSocket(context: context, kind: .reply)
                try socket.bind("inproc://zeromq.zap.01")
            } catch {
                failure.set(error)
                ready.signal()
                return
            }
            ready.signal()
            while isRunning {
                let got: [Data]?
                do { got = try socket.receive(timeoutMilliseconds: 100) } catch { break }   // context shut down
                guard let request = got else { continue }
                // [version, request id, domain, address, identity, mechanism, credentials...]
                guard request.count >= 6 else { continue }
                let version = request[0], id = request[1]
                let mechanism = String(decoding: request[5], as: UTF8.self)
                var ok = false
                if mechanism == "CURVE", request.count >= 7, let key = ZMQCurve.z85(request[6]) {
                    ok = authorized.contains(key)
                }
                lock.lock()
                if ok { _accepted += 1 } else { _rejected += 1 }
                lock.unlock()
                let reply: [Data] = [version, id, Data((ok ? "200" : "400").utf8),
                                     Data((ok ? "OK" : "key not authorized").utf8), Data(), Data()]
                do { _ = try socket.send(reply, blocking: true) } catch let e as ZMQError where e.isTerminated { break } catch {}
            }
            socket.close()
        }
        let t = Thread(block: body)
        t.start()
        ready.wait()
        if let e = failure.error { throw e }
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// Stops the handler thread (it also stops when the context shuts down).
    public func stop() { lock.lock(); running = false; lock.unlock() }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Error?
    var error: Error? { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ e: Error) { lock.lock(); value = e; lock.unlock() }
}

/// Counts failed handshakes on monitored sockets, on its own thread. A CURVE
/// server's ZAP handler only sees clients that speak CURVE; one that offers no
/// key (or a wrong server key, or garbage) fails the handshake before
/// authentication, and libzmq reports it only through a socket monitor.
public final class HandshakeMonitor: @unchecked Sendable {
    private let lock = NSLock()
    private var _failures = 0
    private var _authenticationFailures = 0
    private var running = true

    /// Handshakes that failed for any reason (protocol, mechanism mismatch or authentication).
    public var failures: Int { lock.lock(); defer { lock.unlock() }; return _failures }
    /// Of those, the ones a ZAP handler refused.
    public var authenticationFailures: Int { lock.lock(); defer { lock.unlock() }; return _authenticationFailures }

    /// Monitors `sockets`; each gets its own inproc endpoint named after `name`.
    public init(context: ZMQContext, sockets: [ZMQSocket], name: String) throws {
        var endpoints: [String] = []
        for (i, socket) in sockets.enumerated() {
            let endpoint = "inproc://reachguard-monitor-\(name)-\(i)"
            try socket.monitorHandshakeFailures(on: endpoint)
            endpoints.append(endpoint)
        }
        let ready = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        let list = endpoints
        let body: @Sendable () -> Void = { [self] in
            var readers: [ZMQSocket] = []
            do {
                for endpoint in list {
                    let reader = try ZMQSocket(context: context, kind: .pair)
                    try reader.connect(endpoint)
                    readers.append(reader)
                }
            } catch {
                failure.set(error)
                ready.signal()
                return
            }
            ready.signal()
            loop: while isRunning {
                for reader in readers {
                    let got: [Data]?
                    do { got = try reader.receive(timeoutMilliseconds: 50) } catch { break loop }   // context shut down
                    // Frame 1: event number (16 bits) and value (32 bits), little-endian; frame 2: the peer address.
                    guard let frames = got, let first = frames.first, first.count >= 2 else { continue }
                    let event = Int32(first[first.startIndex]) | Int32(first[first.startIndex + 1]) << 8
                    lock.lock()
                    _failures += 1
                    if event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH { _authenticationFailures += 1 }
                    lock.unlock()
                }
            }
            for reader in readers { reader.close() }
        }
        Thread(block: body).start()
        ready.wait()
        if let e = failure.error { throw e }
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// Stops the reader thread (it also stops when the context shuts down).
    public func stop() { lock.lock(); running = false; lock.unlock() }
}
