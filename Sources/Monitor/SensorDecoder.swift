import Foundation

/// One state estimate from the robot: {"seq", "stamp", "x", "radius"?}.
public struct SensorMessage: Sendable, Equatable {
    public var seq: UInt64
    public var stamp: Double
    public var x: [Double]
    public var radius: [Double]?
}

/// Why a message is refused; `seq` when it could still be read, so the
/// `invalid` verdict can be matched to it.
public struct SensorError: Error, CustomStringConvertible, Sendable {
    public var seq: UInt64?
    public var stamp: Double?
    public var description: String
}

/// Decodes sensor frames [topic, JSON]. A strict small JSON reader of our own:
/// it caps sizes before allocating, and reads NaN and Infinity (which Python's
/// json module writes) so that they are refused by name, not as "not JSON".
public struct SensorDecoder: Sendable {
    public var topic: String
    public var stateCount: Int
    public var maximumBytes: Int

    public init(topic: String, stateCount: Int, maximumBytes: Int = 64 * 1024) {
        self.topic = topic
        self.stateCount = stateCount
        self.maximumBytes = maximumBytes
    }

    public func decode(_ frames: [Data]) -> Result<SensorMessage, SensorError> {
        guard frames.count == 2 else {
            return .failure(SensorError(description: "expected 2 frames [topic, JSON], got \(frames.count)"))
        }
        guard String(decoding: frames[0], as: UTF8.self) == topic else {
            return .failure(SensorError(description: "unexpected topic '\(String(decoding: frames[0].prefix(64), as: UTF8.self))'"))
        }
        let body = frames[1]
        guard body.count <= maximumBytes else {
            return .failure(SensorError(description: "payload of \(body.count) bytes exceeds \(maximumBytes)"))
        }
        var reader = JSONReader(bytes: Array(body))
        let value: JSONReader.Value
        do { value = try reader.document() } catch {
            return .failure(SensorError(description: "not JSON: \(error)"))
        }
        guard case .object(let fields) = value else { return .failure(SensorError(description: "payload is not a JSON object")) }
        var err = SensorError(description: "")
        if case .number(let s, _)? = fields["stamp"], s.isFinite { err.stamp = s }
        guard case .number(_, let seqText)? = fields["seq"] else {
            err.description = fields["seq"] == nil ? "missing 'seq'" : "'seq' is not a number"
            return .failure(err)
        }
        guard let seq = Self.unsignedInteger(seqText) else {
            err.description = "'seq' must be an unsigned integer literal from 0 to \(UInt64.max) "
                + "(no sign, fraction or exponent), not \(seqText)"
            return .failure(err)
        }
        err.seq = seq
        guard case .number(let stamp, _)? = fields["stamp"] else {
            err.description = fields["stamp"] == nil ? "missing 'stamp'" : "'stamp' is not a number"
            return .failure(err)
        }
        guard stamp.isFinite else { err.description = "'stamp' is not finite"; return .failure(err) }
        func vector(_ key: String) -> Result<[Double]?, SensorError> {
            guard let v = fields[key] else { return .success(nil) }
            guard case .array(let items) = v else { err.description = "'\(key)' is not an array"; return .failure(err) }
            guard items.count == stateCount else {
                err.description = "'\(key)' has \(items.count) values; the system has \(stateCount) states"
                return .failure(err)
            }
            var out: [Double] = []
            for (i, item) in items.enumerated() {
                guard case .number(let n, _) = item else {
                    err.description = "\(key)[\(i)] is not a number"
                    return .failure(err)
                }
                guard n.isFinite else { err.description = "\(key)[\(i)] is \(n), not finite"; return .failure(err) }
                out.append(n)
            }
            return .success(out)
        }
        let x: [Double]
        switch vector("x") {
        case .failure(let e): return .failure(e)
        case .success(let v):
            guard let v else { err.description = "missing 'x'"; return .failure(err) }
            x = v
        }
        var radius: [Double]? = nil
        switch vector("radius") {
        case .failure(let e): return .failure(e)
        case .success(let r):
            if let r, let bad = r.firstIndex(where: { $0 < 0 }) {
                err.description = "radius[\(bad)] is negative"
                return .failure(err)
            }
            radius = r
        }
        return .success(SensorMessage(seq: seq, stamp: stamp, x: x, radius: radius))
    }

    /// `seq` is a uint64, read from the number's text: through a Double it would round
    /// above 2^53 and refuse 2^64 - 1. Only what JSON writes for an integer is taken
    /// ("0", or digits without a leading zero): 1e3 or 5.0 may come from a float, so
    /// they are refused rather than guessed at.
    static func unsignedInteger(_ text: String) -> UInt64? {
        let digits = Array(text.utf8)
        guard let first = digits.first, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              first != 0x30 || digits.count == 1 else { return nil }
        return UInt64(text)   // nil past UInt64.max
    }
}

/// JSON with NaN / Infinity / -Infinity accepted as numbers; depth and sizes capped.
struct JSONReader {
    enum Value: Equatable {
        /// A number keeps its text as well, for integers that a Double cannot hold exactly.
        case null, bool(Bool), number(Double, text: String), string(String), array([Value]), object([String: Value])
    }
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws -> Value {
        let v = try value(depth: 0)
        skip()
        guard i == bytes.count else { throw Failure(description: "trailing characters at byte \(i)") }
        return v
    }

    /// After an object member or array element: consumes ',' (false: another
    /// follows) or the closing `bracket` (true: the container ends).
    mutating func closes(_ bracket: Unicode.Scalar) throws -> Bool {
        skip()
        guard i < bytes.count else { throw Failure(description: "unexpected end") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; return false }
        if bytes[i] == UInt8(ascii: bracket) { i += 1; return true }
        throw Failure(description: "expected ',' or '\(bracket)' at byte \(i)")
    }

    mutating func skip() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func literal(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else { return false }
        i += u.count
        return true
    }

    mutating func value(depth: Int) throws -> Value {
        guard depth < 32 else { throw Failure(description: "nested too deeply") }
        skip()
        guard i < bytes.count else { throw Failure(description: "unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var out: [String: Value] = [:]
            skip()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            while true {
                skip()
                guard case .string(let k) = try value(depth: depth + 1) else { throw Failure(description: "object key is not a string at byte \(i)") }
                skip()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw Failure(description: "expected ':' at byte \(i)") }
                i += 1
                out[k] = try value(depth: depth + 1)
                guard out.count <= 64 else { throw Failure(description: "too many keys") }
                if try closes("}") { return .object(out) }
            }
        case UInt8(ascii: "["):
            i += 1
            var out: [Value] = []
            skip()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            while true {
                out.append(try value(depth: depth + 1))
                guard out.count <= 4096 else { throw Failure(description: "array too long") }
                if try closes("]") { return .array(out) }
            }
        case UInt8(ascii: "\""):
            i += 1
            var s: [UInt8] = []
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { break }
                }
                s.append(bytes[i])
                i += 1
                guard s.count <= 1024 else { throw Failure(description: "string too long") }
            }
            guard i < bytes.count else { throw Failure(description: "unterminated string") }
            i += 1
            return .string(String(decoding: s, as: UTF8.self))
        default:
            if literal("true") { return .bool(true) }
            if literal("false") { return .bool(false) }
            if literal("null") { return .null }
            if literal("NaN") { return .number(.nan, text: "NaN") }
            if literal("Infinity") { return .number(.infinity, text: "Infinity") }
            if literal("-Infinity") { return .number(-.infinity, text: "-Infinity") }
            let start = i
            while i < bytes.count, let c = Optional(bytes[i]),
                  (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                    || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                i += 1
                guard i - start <= 64 else { throw Failure(description: "number too long") }
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            guard i > start, let d = Double(text) else { throw Failure(description: "invalid value at byte \(start)") }
            return .number(d, text: text)
        }
    }
}
