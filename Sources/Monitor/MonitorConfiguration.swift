import Foundation
import Reachability
import Splitting

/// The daemon's settings: the system description plus [monitor] and [zmq].
public struct MonitorConfiguration: Sendable {
    public var system: SystemDescription
    public var deadlineMilliseconds: Double
    public var heartbeatMilliseconds: Double
    public var warmStart: Bool
    /// Publish CROWN's tube when it already proves every step safe ([monitor] certify_first).
    public var certifyFirst: Bool
    public var falsificationSamples: Int
    public var maximumPayloadBytes: Int
    public var sensorEndpoint: String
    public var sensorBind: Bool
    public var sensorTopic: String
    public var alertEndpoint: String
    public var sendHighWaterMark: Int32
    /// [zmq.curve]: this daemon's secret key file and the authorized public keys file.
    public var curveSecretKeyFile: String?
    public var curveAuthorizedKeysFile: String?
    /// Re-dial the sensor endpoint after this long without a message (0: never).
    public var sensorReconnectMilliseconds: Double
    /// Intermediate bounds for the daemon's tubes ([monitor] intermediates, default crown).
    public var intermediates: IntermediateMethod

    public static func load(path: String) throws -> MonitorConfiguration {
        try MonitorConfiguration(system: SystemDescription.load(path: path))
    }

    public init(system: SystemDescription) throws {
        self.system = system
        let file = system.file
        func fail(_ key: String, _ m: String) -> SystemError { SystemError("\(file): \(key): \(m)") }
        func table(_ name: String) throws -> [String: TOMLValue] {
            guard let v = system.document[name] else { return [:] }
            guard let t = v.table else { throw fail("[\(name)]", "must be a table") }
            return t
        }
        func number(_ t: [String: TOMLValue], _ section: String, _ key: String, _ value: Double, _ range: ClosedRange<Double>) throws -> Double {
            guard let v = t[key] else { return value }
            guard let n = v.number, range.contains(n) else {
                throw fail("[\(section)] \(key)", "must be a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        func flag(_ t: [String: TOMLValue], _ section: String, _ key: String, _ value: Bool) throws -> Bool {
            guard let v = t[key] else { return value }
            guard let b = v.boolean else { throw fail("[\(section)] \(key)", "must be true or false") }
            return b
        }
        func endpoint(_ t: [String: TOMLValue], _ key: String, _ value: String) throws -> String {
            guard let v = t[key] else { return value }
            guard let s = v.string, s.hasPrefix("tcp://") || s.hasPrefix("ipc://") else {
                throw fail("[zmq] \(key)", "must be a tcp:// or ipc:// endpoint")
            }
            return s
        }
        let monitor = try table("monitor")
        deadlineMilliseconds = try number(monitor, "monitor", "deadline_ms", 10, 0.1...60_000)
        heartbeatMilliseconds = try number(monitor, "monitor", "heartbeat_ms", 500, 10...60_000)
        warmStart = try flag(monitor, "monitor", "warm_start", true)
        certifyFirst = try flag(monitor, "monitor", "certify_first", true)
        falsificationSamples = Int(try number(monitor, "monitor", "falsification_samples", 32, 0...100_000))
        maximumPayloadBytes = Int(try number(monitor, "monitor", "max_payload_bytes", 65_536, 64...16_777_216))
        intermediates = try SystemDescription.intermediates(in: monitor, section: "monitor", file: file,
                                                            default: .crown)
        let zmq = try table("zmq")
        sensorEndpoint = try endpoint(zmq, "sensor_endpoint", "tcp://127.0.0.1:5556")
        sensorBind = try flag(zmq, "zmq", "sensor_bind", false)
        guard (zmq["sensor_topic"] ?? .string("state")).string != nil else { throw fail("[zmq] sensor_topic", "must be a string") }
        sensorTopic = zmq["sensor_topic"]?.string ?? "state"
        alertEndpoint = try endpoint(zmq, "alert_endpoint", "tcp://127.0.0.1:5557")
        sendHighWaterMark = Int32(try number(zmq, "zmq", "send_high_water_mark", 1000, 1...1_000_000))
        sensorReconnectMilliseconds = try number(zmq, "zmq", "sensor_reconnect_ms", 5000, 0...3_600_000)
        if let curve = zmq["curve"] {
            guard let t = curve.table else { throw fail("[zmq.curve]", "must be a table") }
            let dir = (file as NSString).deletingLastPathComponent
            func path(_ key: String) throws -> String {
                guard let p = t[key]?.string, !p.isEmpty else { throw fail("[zmq.curve] \(key)", "missing (a file path)") }
                return p.hasPrefix("/") ? p : ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent(p)
            }
            curveSecretKeyFile = try path("secret_key_file")
            curveAuthorizedKeysFile = try path("authorized_keys_file")
        }
        if sensorEndpoint == alertEndpoint { throw fail("[zmq] alert_endpoint", "must differ from sensor_endpoint") }
        guard system.sensorRadius != nil else { throw fail("[sensor] radius", "missing; the monitor needs a default radius") }
    }
}
