import ArgumentParser
import Foundation
import LinearAlgebra
import Monitor
import Transport

struct Soak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Drive a running daemon for a long time and account for every message (a soak run, not a test).",
        discussion: """
        Publishes simulated states at --rate with a fraction of malformed messages, listens to
        the daemon's verdicts and heartbeats, and prints at the end: messages sent, the seqs that
        were neither answered nor counted as skipped (must be 0), the daemon's resident memory
        and open file descriptors at the start and the end (--pid), and latency percentiles.

        Latency percentiles are the daemon's own `latency_ms`, leaving out the first --warm-up
        answers. As a socket-level latency benchmark: --malformed 0, and --jumps for a new random
        state every message.

        Example (Scripts/soak.sh runs it against a fresh daemon):
          reachguard soak --config Config/double_integrator/system.toml --pid 1234 --seconds 600 --rate 100
          reachguard soak --config Config/double_integrator/system.toml --seconds 20 --malformed 0 --jumps
        """)

    @Option(help: "The daemon's configuration file.") var config: String
    @Option(help: "The daemon's process id, for memory and descriptor figures.") var pid: Int32?
    @Option(help: "Seconds to run.") var seconds: Double = 600
    @Option(help: "Messages per second.") var rate: Double = 100
    @Option(help: "Fraction of malformed messages.") var malformed: Double = 0.01
    @Flag(help: "Every message a new random state of the [simulate] box (a jump), not a trajectory.")
    var jumps = false
    @Option(help: "Answered messages left out of the latency percentiles (the daemon's warm-up).")
    var warmUp: Int = 50

    func validate() throws {
        try OptionCheck.seconds(seconds, "--seconds")
        try OptionCheck.number(rate, "--rate", in: 0...1e6, open: true)
        try OptionCheck.number(malformed, "--malformed", in: 0...1)
    }

    func run() throws {
        try Output.run {
            let c = try MonitorConfiguration.load(path: config)
            let context = try ZMQContext()
            let pub = try ZMQSocket(context: context, kind: .publisher)
            if c.sensorBind { try pub.connect(c.sensorEndpoint) } else { _ = try pub.bind(c.sensorEndpoint) }
            let sub = try ZMQSocket(context: context, kind: .subscriber)
            try sub.subscribe("verdict")
            try sub.subscribe("heartbeat")
            try sub.connect(c.alertEndpoint)
            Thread.sleep(forTimeInterval: 1)
            var sim = try SensorSimulator(system: c.system, topic: c.sensorTopic, seed: 11)
            if jumps { sim.restartEvery = 1 }
            func proc(_ field: String) -> Int {
                guard let pid, let t = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
                for line in t.split(separator: "\n") where line.hasPrefix(field + ":") {
                    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
                }
                return -1
            }
            func fds() -> Int {
                guard let pid else { return -1 }
                return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
            }
            let rssStart = proc("VmRSS"), fdStart = fds()
            var sent: Set<UInt64> = []
            var answered: Set<UInt64> = []
            var invalidSent = 0
            var latencies: [Double] = []
            var lastBeat: [String: Any] = [:]
            var rng = SplitMix64(seed: 5)
            let start = Date()
            var next = Date()
            let period = 1 / rate
            // Receives until `wait` ms have passed (not per message: a verdict must not restart the
            // wait, or the sender falls behind and catches up in bursts the daemon counts as skipped).
            func drain(wait: Int) throws {
                let end = Date().addingTimeInterval(Double(wait) / 1000)
                func remaining() -> Int { max(0, Int(end.timeIntervalSinceNow * 1000)) }
                while let f = try sub.receive(timeoutMilliseconds: remaining()) {
                    guard f.count == 2, let o = try? JSONSerialization.jsonObject(with: f[1]) as? [String: Any] else { continue }
                    if String(decoding: f[0], as: UTF8.self) == "heartbeat" {
                        lastBeat = o
                    } else if let s = (o["seq"] as? NSNumber)?.uint64Value {
                        answered.insert(s)
                        if let l = o["latency_ms"] as? Double, o["verdict"] as? String != "invalid",
                           answered.count > warmUp { latencies.append(l) }
                    }
                }
            }
            while Date().timeIntervalSince(start) < seconds {
                var (frames, _) = sim.next(stamp: Date().timeIntervalSince1970)
                let seq = UInt64(sent.count + invalidSent + 1)
                if rng.unit() < malformed {
                    frames = [frames[0], Data("{\"seq\": \(seq), \"stamp\": 0, \"x\": [NaN, 1]}".utf8)]
                    invalidSent += 1
                } else {
                    // Renumber so that seqs are dense across valid and malformed messages.
                    if var o = (try? JSONSerialization.jsonObject(with: frames[1])) as? [String: Any] {
                        o["seq"] = seq
                        frames[1] = (try? JSONSerialization.data(withJSONObject: o)) ?? frames[1]
                    }
                }
                sent.insert(seq)
                _ = try pub.send(frames, blocking: false)
                try drain(wait: 0)
                next = next.addingTimeInterval(period)
                // A sender that fell behind (a stall of this process) skips ahead rather than burst.
                if next.timeIntervalSinceNow < -period { next = Date() }
                let d = next.timeIntervalSinceNow
                if d > 0 { try drain(wait: Int(d * 1000)) }
                if isatty(2) != 0 && sent.count % Int(max(1, rate * 10)) == 0 {
                    FileHandle.standardError.write(Data(String(format: "\rsoak: %.0f s, %d sent", Date().timeIntervalSince(start), sent.count).utf8))
                }
            }
            let settle = Date()
            while Date().timeIntervalSince(settle) < 2 { try drain(wait: 100) }
            let received = lastBeat["received"] as? Int ?? 0
            let skipped = lastBeat["skipped"] as? Int ?? 0
            let unaccounted = sent.subtracting(answered).count - skipped
            let sorted = latencies.sorted()
            func p(_ q: Double) -> Double { percentile(q, ofSorted: sorted) ?? .nan }
            Output.line(String(format: "soak: %.0f s at %.0f Hz: sent %d (%d malformed), daemon received %d, answered %d, skipped %d, unaccounted %d; latency ms p50 %.2f p99 %.2f max %.2f; daemon RSS %d -> %d KiB, open fds %d -> %d; deadline misses %d, invalid %d",
                               seconds, rate, sent.count, invalidSent, received, answered.count, skipped, unaccounted,
                               p(0.5), p(0.99), sorted.last ?? .nan, rssStart, proc("VmRSS"), fdStart, fds(),
                               lastBeat["deadline_misses"] as? Int ?? -1, lastBeat["invalid"] as? Int ?? -1))
            pub.close()
            sub.close()
            context.shutdown()
        }
    }
}
