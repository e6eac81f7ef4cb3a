import ArgumentParser
import Dispatch
import Foundation
import Monitor

struct BenchMonitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-monitor",
        abstract: "Benchmark the monitor core on simulated sensor messages (figures, not a test).",
        discussion: """
        Feeds --count simulated states of the closed loop, one after another, through the same
        MonitorCore the daemon uses (decoding, warm-started tube, verdict), and prints the
        sustained rate, latency percentiles, deadline misses and resident memory at the start
        and the end. Sockets are left out: the daemon's loop adds a receive and a send
        (`reachguard soak` measures over sockets). Run through Benchmarks/malloc-counter/count.sh
        (an LD_PRELOAD counter), it also prints the heap allocations per message after warm-up.

        Example:
          reachguard bench-monitor --config Config/quadrotor/system.toml --count 10000
          reachguard bench-monitor --config Config/double_integrator/system.toml --jumps
        """)

    @Option(help: "The daemon's configuration file.") var config: String
    @Option(help: "Messages.") var count: Int = 10_000
    @Flag(help: "Solve each message cold (no warm start), for comparison.") var cold = false
    @Flag(help: "Every message a new random state of the [simulate] box (a jump), not a trajectory.")
    var jumps = false

    func validate() throws {
        try OptionCheck.count(count, "--count", in: 1...OptionCheck.maximumCount)
    }

    func run() throws {
        try Output.run {
            var c = try MonitorConfiguration.load(path: config)
            if cold { c.warmStart = false }
            let core = try MonitorCore(configuration: c)
            _ = try core.selfCheck()
            var sim = try SensorSimulator(system: c.system, topic: c.sensorTopic, seed: 3)
            if jumps { sim.restartEvery = 1 }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            var verdicts: [String: Int] = [:]
            var methods: [String: Int] = [:]
            let rssStart = Self.residentKiB()
            let counter = AllocationCounter()
            var hotAllocations: UInt64 = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<count {
                let (frames, _) = sim.next(stamp: Double(i) * 0.01)
                guard case .success(let m) = core.decoder.decode(frames) else { continue }
                let before = counter?.count() ?? 0
                let v = core.process(m)
                if i >= AllocationCounter.warmUp { hotAllocations += (counter?.count() ?? 0) - before }
                latencies.append(v["latency_ms"] as? Double ?? .nan)
                verdicts[v["verdict"] as? String ?? "?", default: 0] += 1
                // The rung that decided: the method's first word (ibp, crown, admm).
                let method = (v["method"] as? String ?? "?").split(separator: "/").first.map(String.init) ?? "?"
                methods[method, default: 0] += 1
                if isatty(2) != 0 && i % 1000 == 0 { FileHandle.standardError.write(Data("\rbench-monitor: \(i)/\(count)".utf8)) }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let rssEnd = Self.residentKiB()
            let sorted = latencies.sorted()
            func p(_ q: Double) -> Double { percentile(q, ofSorted: sorted) ?? .nan }
            let misses = latencies.filter { $0 > c.deadlineMilliseconds }.count
            Output.line(String(format: "%@: %d messages in %.2f s = %.0f msg/s sustained; latency ms p50 %.3f p99 %.3f max %.3f; deadline %.0f ms, misses %d (first message included); warm %@; RSS %d -> %d KiB; verdicts %@",
                               config, count, seconds, Double(count) / seconds, p(0.5), p(0.99), sorted.last ?? .nan,
                               c.deadlineMilliseconds, misses, c.warmStart ? "yes" : "no", rssStart, rssEnd,
                               Self.tally(verdicts)))
            Output.line("decided by: " + Self.tally(methods))
            Output.line(Self.allocationLine(counter: counter, total: hotAllocations, count: count))
        }
    }

    /// "a 3, b 5": counts by name, in name order.
    static func tally(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static func allocationLine(counter: AllocationCounter?, total: UInt64, count: Int) -> String {
        guard counter != nil else {
            return "allocations: not counted (run through Benchmarks/malloc-counter/count.sh)"
        }
        let measured = count - AllocationCounter.warmUp
        guard measured > 0 else { return "allocations: not counted (--count within the warm-up)" }
        return String(format: "allocations per message (MonitorCore.process, after %d warm-up messages): %.1f",
                      AllocationCounter.warmUp, Double(total) / Double(measured))
    }

    static func residentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        return -1
    }
}

/// The heap-allocation counter of Benchmarks/malloc-counter, when it is preloaded.
struct AllocationCounter {
    /// Messages left out: the first ones size the workspaces.
    static let warmUp = 50
    let count: @convention(c) () -> UInt64

    init?() {
        guard let symbol = dlsym(nil, "reachguard_malloc_count") else { return nil }
        count = unsafeBitCast(symbol, to: (@convention(c) () -> UInt64).self)
    }
}
