import Dispatch
import Foundation
import Monitor
import Reachability
import Transport

/// `reachguardd --demo`: a simulator thread publishing noisy states of the
/// closed loop, and a line per second on stderr from the daemon's heartbeats.
enum DemoDriver {
    static func start(configuration: MonitorConfiguration, context: ZMQContext, daemon: Daemon,
                      rate: Double, seconds: Double, stop: StopFlag) {
        let tally = Tally()
        daemon.onHeartbeat = { hb in
            let lat = hb["latency_ms"] as? [String: Any] ?? [:]
            func ms(_ k: String) -> String { (lat[k] as? Double).map { String(format: "%.2f", $0) } ?? "-" }
            let v = tally.summary
            FileHandle.standardError.write(Data(String(
                format: "[demo] %5.1fs  received %d  processed %d  skipped %d  invalid %d  misses %d | verdicts: %@ | latency ms p50 %@ p99 %@ max %@\n",
                hb["uptime_s"] as? Double ?? 0, hb["received"] as? Int ?? 0, hb["processed"] as? Int ?? 0,
                hb["skipped"] as? Int ?? 0, hb["invalid"] as? Int ?? 0, hb["deadline_misses"] as? Int ?? 0,
                v, ms("p50"), ms("p99"), ms("max")).utf8))
        }
        let simulator = Thread {
            // The daemon connects its sensor socket; the simulator binds it.
            guard let pub = try? ZMQSocket(context: context, kind: .publisher),
                  (try? pub.bind(configuration.sensorEndpoint)) != nil,
                  var sim = try? SensorSimulator(system: configuration.system, topic: configuration.sensorTopic) else {
                FileHandle.standardError.write(Data("[demo] cannot start the simulator on \(configuration.sensorEndpoint)\n".utf8))
                stop.set()
                return
            }
            let sub = try? ZMQSocket(context: context, kind: .subscriber)
            try? sub?.subscribe("verdict")
            try? sub?.connect(configuration.alertEndpoint)
            let start = Date()
            let period = 1 / max(rate, 0.1)
            var next = Date()
            while !stop.isSet && Date().timeIntervalSince(start) < seconds {
                let (frames, _) = sim.next(stamp: Date().timeIntervalSince1970)
                _ = try? pub.send(frames, blocking: false)
                while let m = try? sub?.receiveAvailable(limit: 1000), !m.isEmpty {
                    for f in m where f.count == 2 {
                        if let o = try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any], let v = o["verdict"] as? String {
                            tally.add(v)
                        }
                    }
                    break
                }
                next = next.addingTimeInterval(period)
                let d = next.timeIntervalSinceNow
                if d > 0 { Thread.sleep(forTimeInterval: d) }
            }
            Thread.sleep(forTimeInterval: 0.5)
            pub.close()
            sub?.close()
            stop.set()
        }
        simulator.start()
    }
}

/// Verdict counts seen by the demo's subscriber, read from the heartbeat printer.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ v: String) { lock.lock(); counts[v, default: 0] += 1; lock.unlock() }
    var summary: String {
        lock.lock(); defer { lock.unlock() }
        return counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
