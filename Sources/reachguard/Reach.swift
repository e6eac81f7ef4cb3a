import ArgumentParser
import Bounds
import Foundation
import LinearAlgebra
import Reachability
import Splitting

struct Reach: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reach",
        abstract: "Certified reachable sets of a closed loop over a horizon, and a safety verdict.",
        discussion: """
        Each step's set is a template polytope {x : D x <= d}; every d_i is a certified upper
        bound of D_i x_t (a dual bound of the triangle relaxation of the unrolled loop). The
        verdict is `safe` only with a certificate for every step, `unsafe` only with a simulated
        trajectory that enters an unsafe set, and `unknown` otherwise.

        Examples:
          reachguard reach Config/double_integrator/system.toml --state 2.75,0 --radius 0.25,0.25 --json
          reachguard reach Config/double_integrator/system.toml --box box.json --svg tube.svg
          reachguard reach Config/quadrotor/system.toml --state 0,0,1,0,0,0 --strategy recursive
          reachguard reach Config/unicycle/system.toml --state 0,0,0 --certify-first

        With --certify-first the tube is CROWN's when CROWN alone proves every step safe
        (`method`: crown in --json), else the splitting solver's (`method`: admm).
        """)

    @Argument(help: "The system description (TOML).") var system: String
    @Option(help: "Initial set, a JSON file {\"lower\": [...], \"upper\": [...]}.") var box: String?
    @Option(help: "Initial state, comma-separated (with --radius or the [sensor] radius).") var state: String?
    @Option(help: "Half-widths around --state, comma-separated.") var radius: String?
    @Option(help: "Steps (default: [reach] horizon).") var horizon: Int?
    @Option(help: "one-shot or recursive (default: [reach] strategy).") var strategy: String?
    @Option(help: "Intermediate bounds: lp, crown or ibp (default: [reach] intermediates, else lp).") var intermediates: String?
    @Option(help: "Write an SVG picture of the tube to this file.") var svg: String?
    @Option(help: "The two state coordinates the SVG shows, e.g. 0,1.") var plotDims: String = "0,1"
    @Flag(help: "Stop at CROWN's tube when it proves every step safe (the daemon's default; faster, looser sets).")
    var certifyFirst = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try OptionCheck.numbers(state, "--state")
        try OptionCheck.numbers(radius, "--radius", nonNegative: true)
        try OptionCheck.count(horizon, "--horizon", in: 1...1000)
        try OptionCheck.choice(strategy, "--strategy", SystemDescription.Strategy.allCases.map(\.rawValue))
        try OptionCheck.choice(intermediates, "--intermediates", IntermediateMethod.allCases.map(\.rawValue))
        guard try OptionCheck.indices(plotDims, "--plot-dims").count == 2 else {
            throw ValidationError("--plot-dims must name two state coordinates, e.g. 0,1")
        }
    }

    func run() throws {
        try Output.run {
            let sys = try SystemDescription.load(path: system)
            let n = sys.stateCount
            let initial: Interval
            if let box {
                initial = try InputFiles.box(box, dimension: n)
            } else if let state {
                let x = try parseNumbers(state, field: "--state")
                guard x.count == n else { throw CommandFailure("--state has \(x.count) values; the system has \(n) states") }
                let r: [Double]
                if let radius { r = try parseNumbers(radius, field: "--radius") }
                else if let s = sys.sensorRadius { r = s }
                else { throw CommandFailure("--radius is needed: \(system) has no [sensor] radius") }
                guard r.count == n else { throw CommandFailure("--radius has \(r.count) values; the system has \(n) states") }
                if let bad = r.firstIndex(where: { $0 < 0 }) { throw CommandFailure("--radius: value \(bad) is negative") }
                initial = Interval(lower: zip(x, r).map { $0 - $1 }, upper: zip(x, r).map { $0 + $1 })
            } else {
                throw CommandFailure("give the initial set with --box or --state")
            }
            var strat: SystemDescription.Strategy? = nil
            if let strategy {
                guard let s = SystemDescription.Strategy(rawValue: strategy) else {
                    throw CommandFailure("--strategy must be one-shot or recursive, not '\(strategy)'")
                }
                strat = s
            }
            var inter: IntermediateMethod? = nil
            if let intermediates {
                guard let m = IntermediateMethod(rawValue: intermediates) else {
                    throw CommandFailure("--intermediates must be lp, crown or ibp, not '\(intermediates)'")
                }
                inter = m
            }
            var analysis = try ReachAnalysis(system: sys, horizon: horizon, strategy: strat, intermediates: inter)
            analysis.settings.applyDiagnosticEnvironment()
            analysis.certifyFirst = certifyFirst
            let tube = try analysis.run(initial: initial)
            if let svg {
                let dims = try OptionCheck.indices(plotDims, "--plot-dims")
                guard dims.count == 2, dims.allSatisfy({ (0..<n).contains($0) }), dims[0] != dims[1] else {
                    throw CommandFailure("--plot-dims must name two different state coordinates below \(n)")
                }
                let trajectories = Self.sampleTrajectories(analysis, initial, count: 100)
                let text = TubeSVG.render(tube, system: sys, trajectories: trajectories, dims: (dims[0], dims[1]))
                do { try text.write(toFile: svg, atomically: true, encoding: .utf8) }
                catch { throw CommandFailure("\(svg): cannot write (\(error.localizedDescription))") }
            }
            if json {
                var obj: [String: Any] = [
                    "verdict": tube.verdict.rawValue,
                    "first_unsafe_step": tube.firstUnsafeStep.map { $0 as Any } ?? NSNull(),
                    "seconds": tube.seconds, "iterations": tube.iterations,
                    "strategy": analysis.strategy.rawValue, "intermediates": analysis.intermediates.rawValue,
                    "method": tube.method.rawValue,
                    "steps": tube.steps.map { s -> [String: Any] in
                        var o: [String: Any] = ["t": s.t, "lower": s.lower, "upper": s.upper, "directions": s.directions,
                                                "bounds": s.bounds, "safe": s.safe,
                                                "margin": s.margin.map { $0 as Any } ?? NSNull()]
                        if let lo = s.intervalLower, let hi = s.intervalUpper {
                            o["interval_lower"] = lo
                            o["interval_upper"] = hi
                        }
                        return o
                    },
                ]
                if let note = tube.note { obj["note"] = note }
                if let cex = tube.counterexample { obj["counterexample"] = cex }
                try Output.json(obj)
            } else {
                Output.line("verdict: \(tube.verdict.rawValue)\(tube.firstUnsafeStep.map { " (first non-safe step \($0))" } ?? "")"
                    + ", \(tube.iterations) iterations, \(String(format: "%.4f", tube.seconds)) s")
                if let note = tube.note { Output.line("note: \(note)") }
                for s in tube.steps {
                    let box = zip(s.lower, s.upper).map { "[\(String(format: "%.5g", $0)), \(String(format: "%.5g", $1))]" }.joined(separator: " x ")
                    let m = s.margin.map { String(format: "  margin %.4g", $0) } ?? ""
                    Output.line("t=\(s.t): \(box)\(m)\(s.safe ? "" : "  NOT CERTIFIED SAFE")")
                }
            }
        }
    }

    static func sampleTrajectories(_ a: ReachAnalysis, _ initial: Interval, count: Int) -> [[[Double]]] {
        var out: [[[Double]]] = []
        var rng = SplitMix64(seed: 42)
        func unit() -> Double { rng.unit() }
        let n = initial.count
        for _ in 0..<count {
            let x0 = (0..<n).map { initial.lower[$0] + unit() * (initial.upper[$0] - initial.lower[$0]) }
            var w: [Double] = []
            if let d = a.system.disturbance {
                for _ in 0..<a.horizon { w += d.lower.indices.map { d.lower[$0] + unit() * (d.upper[$0] - d.lower[$0]) } }
            }
            out.append(a.loop.simulate(x0, disturbances: w))
        }
        return out
    }
}
