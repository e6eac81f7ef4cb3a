import Bounds
import Dispatch
import Foundation
import Reachability
import Splitting

/// Message in, verdict out: the monitor without sockets or threads. It keeps one
/// warm `ReachAnalysis` (every solver workspace of the tube), the counters, and
/// the latencies since the last heartbeat. Not thread-safe: one processing thread owns it.
public final class MonitorCore {
    public struct Counters: Sendable, Equatable {
        public var received = 0
        public var processed = 0
        public var skipped = 0
        public var invalid = 0
        public var deadlineMisses = 0
        public var dropped = 0       // publishes refused by a full send queue
    }

    public let configuration: MonitorConfiguration
    public let decoder: SensorDecoder
    public private(set) var counters = Counters()
    var analysis: ReachAnalysis
    var latencies: [Double] = []
    private(set) var started = DispatchTime.now().uptimeNanoseconds
    /// Connections refused by authentication (CURVE), read at each heartbeat.
    public var rejectedCount: () -> Int = { 0 }
    /// Handshakes that failed before authentication (a client offering no key, a
    /// wrong server key, not ZMTP at all), read at each heartbeat.
    public var handshakeFailureCount: () -> Int = { 0 }

    public init(configuration: MonitorConfiguration) throws {
        self.configuration = configuration
        let sys = configuration.system
        decoder = SensorDecoder(topic: configuration.sensorTopic, stateCount: sys.stateCount,
                                maximumBytes: configuration.maximumPayloadBytes)
        analysis = try ReachAnalysis(system: sys, intermediates: configuration.intermediates)
        analysis.samples = configuration.falsificationSamples
        analysis.certifyFirst = configuration.certifyFirst
    }

    /// A solve at the origin (or the first unsafe-free state) before READY=1:
    /// models loaded, solver factorised, a certified tube produced.
    public func selfCheck() throws -> Verdict {
        let n = configuration.system.stateCount
        let r = configuration.system.sensorRadius ?? [Double](repeating: 0, count: n)
        let box = Interval(lower: r.map { -$0 }, upper: r)
        // On the real analysis: it also factorises and warms every solver state.
        let tube = try analysis.run(initial: box)
        guard tube.steps.allSatisfy({ s in s.bounds.allSatisfy { $0.isFinite } }) else {
            throw SystemError("self-check: the reach tube has non-finite bounds")
        }
        return tube.verdict
    }

    /// Carries the counters over when a reloaded configuration replaces this core,
    /// with the authentication counts, which live in the sockets the daemon keeps.
    /// The process's uptime and the latencies not yet reported go on too: a
    /// reload must not look like a restart to a supervisor.
    public func adoptCounters(from other: MonitorCore) {
        counters = other.counters
        started = other.started
        latencies = other.latencies
        rejectedCount = other.rejectedCount
        handshakeFailureCount = other.handshakeFailureCount
    }

    public func noteReceived(_ count: Int = 1) { counters.received += count }
    public func noteSkipped(_ count: Int = 1) { counters.skipped += count }
    public func noteDropped(_ count: Int = 1) { counters.dropped += count }

    /// The verdict object for a sensor message.
    public func process(_ m: SensorMessage) -> [String: Any] {
        let start = DispatchTime.now().uptimeNanoseconds
        let radius = m.radius ?? configuration.system.sensorRadius ?? []
        let box = Interval(lower: zip(m.x, radius).map { $0 - $1 }, upper: zip(m.x, radius).map { $0 + $1 })
        if !configuration.warmStart { analysis.resetWarmState() }
        // Leave room for the falsification and bookkeeping after the solves.
        let budget = max(0, configuration.deadlineMilliseconds / 1000 * 0.8)
        var out: [String: Any] = ["seq": m.seq, "stamp": m.stamp]
        do {
            let tube = try analysis.run(initial: box, budget: budget)
            out["verdict"] = tube.verdict.rawValue
            out["first_unsafe_step"] = tube.firstUnsafeStep.map { $0 as Any } ?? NSNull()
            out["margins"] = tube.steps.map { s -> Any in s.margin.map { $0 as Any } ?? NSNull() }
            out["iterations"] = tube.iterations
            out["warm"] = tube.warm
            let intermediates: IntermediateMethod = switch tube.method {
            case .ibp: .ibp
            case .crown: .crown
            case .admm: analysis.intermediates
            }
            out["method"] = "\(tube.method.rawValue)/\(analysis.strategy.rawValue)/\(intermediates.rawValue)-intermediates"
            out["error"] = NSNull()
        } catch {
            return invalidVerdict(SensorError(seq: m.seq, stamp: m.stamp, description: "\(error)"))
        }
        let latency = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        out["latency_ms"] = latency
        counters.processed += 1
        latencies.append(latency)
        if latency > configuration.deadlineMilliseconds {
            counters.deadlineMisses += 1
            out["deadline_missed"] = true
        } else {
            out["deadline_missed"] = false
        }
        return out
    }

    /// The `invalid` verdict, counted here and only here: both a refused decode
    /// and a solve that throws come through, so each message counts once.
    public func invalidVerdict(_ e: SensorError) -> [String: Any] {
        counters.invalid += 1
        return ["seq": e.seq.map { $0 as Any } ?? NSNull(), "stamp": e.stamp.map { $0 as Any } ?? NSNull(),
                "verdict": Verdict.invalid.rawValue, "first_unsafe_step": NSNull(), "margins": [Any](),
                "latency_ms": 0.0, "iterations": 0, "warm": false, "method": "none", "error": e.description]
    }

    /// Counters, uptime and latency percentiles since the last heartbeat (then reset).
    public func heartbeat() -> [String: Any] {
        let sorted = latencies.sorted()
        func at(_ p: Double) -> Any { percentile(p, ofSorted: sorted) ?? NSNull() }
        let hb: [String: Any] = [
            "received": counters.received, "processed": counters.processed, "skipped": counters.skipped,
            "invalid": counters.invalid, "deadline_misses": counters.deadlineMisses, "dropped": counters.dropped,
            "rejected": rejectedCount(), "handshake_failures": handshakeFailureCount(),
            "uptime_s": Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9,
            "latency_ms": ["p50": at(0.5), "p99": at(0.99), "max": sorted.last.map { $0 as Any } ?? NSNull(),
                           "count": sorted.count],
        ]
        latencies.removeAll(keepingCapacity: true)
        return hb
    }

    public static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
