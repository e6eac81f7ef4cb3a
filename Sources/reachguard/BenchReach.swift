import ArgumentParser
import Bounds
import Foundation
import LinearAlgebra
import Reachability
import Splitting

struct BenchReach: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-reach",
        abstract: "Benchmark reach tubes on the example systems (figures, not a test).",
        discussion: """
        For each example with a fixture in Tests/Fixtures/reach (exact ranges by MILP, from
        Scripts/make_reach_fixtures.py) and each strategy and intermediate-bound method, prints
        the full-tube time cold and warm (the initial box moved by 10% of its radius, as a
        new sensor reading would), iterations, and the last step's width over the exact width.
        Also prints the Reach-LP error metric on the double integrator (5 steps, [2.5,3]x[-0.25,0.25]),
        and for each ODE example (Tests/Fixtures/ode) the tube cold and warm, tight and certify-first
        (the daemon's default: CROWN's tube when it proves every step safe), its verdict, and the
        width over the simulated hull per step.

        Example:
          reachguard bench-reach
        """)

    @Option(help: "Folder of the reach fixtures.") var fixtures: String = "Tests/Fixtures/reach"
    @Option(help: "Repetitions per timing (the best is kept).") var repetitions: Int = 5
    @Option(help: "Folder of the ODE fixtures (scipy envelopes, from Scripts/make_ode_examples.py).")
    var odeFixtures: String = "Tests/Fixtures/ode"

    struct Fixture: Decodable {
        struct Range: Decodable { let lower: [Double]; let upper: [Double] }
        struct Step: Decodable { let t: Int; let lower: [Double]; let upper: [Double] }
        struct Case: Decodable { let label: String; let box: Range; let horizon: Int; let exact: [Step]; let sampled: [Step] }
        let name: String
        let system: String
        let cases: [Case]
    }

    func validate() throws {
        try OptionCheck.count(repetitions, "--repetitions", in: 1...1000)
    }

    func run() throws {
        try Output.run {
            let files = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter { $0.hasSuffix(".json") }.sorted()
            Output.line("system             case              strategy   interm. | cold ms (it)      | warm ms (it)      | width/exact per step")
            for file in files {
                let fx = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + file)))
                let sys = try SystemDescription.load(path: fx.system)
                for cs in fx.cases {
                    let box = Interval(lower: cs.box.lower, upper: cs.box.upper)
                    let shift = box.widths.map { 0.05 * $0 }
                    let moved = Interval(lower: zip(box.lower, shift).map { $0 + $1 }, upper: zip(box.upper, shift).map { $0 + $1 })
                    for strategy in [SystemDescription.Strategy.oneShot, .recursive] {
                        for inter in [IntermediateMethod.crown, .lp] {
                            var coldSeconds = Double.infinity, warmSeconds = Double.infinity
                            var coldIt = 0, warmIt = 0
                            var tube: ReachTube? = nil
                            for _ in 0..<max(1, repetitions) {
                                var a = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: strategy, intermediates: inter)
                                a.samples = 0
                                let t0 = Date()
                                let cold = try a.run(initial: box)
                                coldSeconds = min(coldSeconds, Date().timeIntervalSince(t0))
                                coldIt = cold.iterations
                                tube = cold
                                let t1 = Date()
                                let warm = try a.run(initial: moved)
                                warmSeconds = min(warmSeconds, Date().timeIntervalSince(t1))
                                warmIt = warm.iterations
                            }
                            guard let tube else { continue }
                            var parts: [String] = []
                            for e in cs.exact {
                                let s = tube.steps[e.t]
                                var worst = 0.0
                                for i in 0..<sys.stateCount {
                                    let w: Double = s.upper[i] - s.lower[i]
                                    let x: Double = max(e.upper[i] - e.lower[i], 1e-12)
                                    worst = max(worst, w / x)
                                }
                                parts.append(String(format: "%.3f", worst))
                            }
                            let ratios = parts.joined(separator: " ")
                            Output.line(String(format: "%@ %@ %@ %@ | %8.2f (%6d) | %8.2f (%6d) | %@",
                                               fx.name.padding(toLength: 18, withPad: " ", startingAt: 0),
                                               cs.label.padding(toLength: 17, withPad: " ", startingAt: 0),
                                               strategy.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0),
                                               inter.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0),
                                               coldSeconds * 1000, coldIt, warmSeconds * 1000, warmIt, ratios))
                        }
                    }
                }
            }
            // Reach-LP's final-step error on its own setting.
            if let fx = files.first(where: { $0.hasPrefix("double_integrator") }) {
                let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + fx)))
                let sys = try SystemDescription.load(path: f.system)
                let box = Interval(lower: [2.5, -0.25], upper: [3.0, 0.25])
                // True last-step box from many simulated trajectories.
                var a = try ReachAnalysis(system: sys, horizon: 5, strategy: .oneShot, intermediates: .lp)
                var lo = [Double.infinity, .infinity], hi = [-Double.infinity, -.infinity]
                var rng = SplitMix64(seed: 7)
                for _ in 0..<20_000 {
                    let x0 = (0..<2).map { i in box.lower[i] + rng.unit() * (box.upper[i] - box.lower[i]) }
                    let x = a.loop.simulate(x0)[5]
                    for i in 0..<2 { lo[i] = min(lo[i], x[i]); hi[i] = max(hi[i], x[i]) }
                }
                let trueArea = (hi[0] - lo[0]) * (hi[1] - lo[1])
                let t0 = Date()
                let tube = try a.run(initial: box)
                let cold = Date().timeIntervalSince(t0)
                let moved = Interval(lower: box.lower.map { $0 + 0.001 }, upper: box.upper.map { $0 + 0.001 })
                let t1 = Date()
                _ = try a.run(initial: moved)
                let warm = Date().timeIntervalSince(t1)
                let s = tube.steps[5]
                let area = (s.upper[0] - s.lower[0]) * (s.upper[1] - s.lower[1])
                Output.line(String(format: "Reach-LP setting (double integrator, 5 steps, one-shot, LP intermediates): error %.3f, cold %.2f ms, warm (box moved 0.001) %.2f ms",
                                   (area - trueArea) / trueArea, cold * 1000, warm * 1000))
            }
            try odeRows()
        }
    }
}
