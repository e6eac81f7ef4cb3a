import Bounds
import Foundation
import Reachability

/// bench-reach on the nonlinear (ODE) examples: their fixtures hold scipy envelopes,
/// not exact ranges, so the width is against the simulated hull.
extension BenchReach {
    struct ODEFixture: Decodable {
        struct Range: Decodable { let lower: [Double]; let upper: [Double] }
        struct Step: Decodable { let t: Int; let lower: [Double]; let upper: [Double] }
        struct Case: Decodable { let label: String; let box: Range; let horizon: Int; let samples: [Step] }
        let name: String
        let system: String
        let cases: [Case]
    }

    /// One timed configuration: the best of `repetitions` cold runs and of the warm runs after them.
    struct Timing {
        var cold = Double.infinity, warm = Double.infinity
        var coldIterations = 0, warmIterations = 0
        var tube: ReachTube?
    }

    func odeRows() throws {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: odeFixtures) else {
            Output.line("(no ODE fixtures in \(odeFixtures))")
            return
        }
        Output.line("")
        Output.line("ODE plants (width over the scipy DOP853 hull of the fixture's trajectories, worst state)")
        Output.line("system             case        steps mode          | cold ms (it)       | warm ms (it)       "
                    + "| verdict method | width/hull per step")
        for file in files.filter({ $0.hasSuffix(".json") }).sorted() {
            let url = URL(fileURLWithPath: odeFixtures + "/" + file)
            let fx = try JSONDecoder().decode(ODEFixture.self, from: Data(contentsOf: url))
            let sys = try SystemDescription.load(path: fx.system)
            for cs in fx.cases {
                for certifyFirst in [false, true] {
                    let timing = try time(sys, cs, certifyFirst: certifyFirst)
                    guard let tube = timing.tube else { continue }
                    Output.line(odeLine(fx, cs, tube: tube, timing: timing, certifyFirst: certifyFirst))
                }
            }
        }
    }

    func time(_ sys: SystemDescription, _ cs: ODEFixture.Case, certifyFirst: Bool) throws -> Timing {
        let box = Interval(lower: cs.box.lower, upper: cs.box.upper)
        // A new sensor reading: the box moved by 10% of its radius.
        let shift = box.widths.map { 0.05 * $0 }
        let moved = Interval(lower: zip(box.lower, shift).map { $0 + $1 }, upper: zip(box.upper, shift).map { $0 + $1 })
        var timing = Timing()
        for _ in 0..<max(1, repetitions) {
            var a = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot, intermediates: .crown)
            a.samples = 0
            a.certifyFirst = certifyFirst
            let t0 = Date()
            let cold = try a.run(initial: box)
            timing.cold = min(timing.cold, Date().timeIntervalSince(t0))
            timing.coldIterations = cold.iterations
            timing.tube = cold
            let t1 = Date()
            let warm = try a.run(initial: moved)
            timing.warm = min(timing.warm, Date().timeIntervalSince(t1))
            timing.warmIterations = warm.iterations
        }
        return timing
    }

    func odeLine(_ fx: ODEFixture, _ cs: ODEFixture.Case, tube: ReachTube, timing: Timing,
                 certifyFirst: Bool) -> String {
        var ratios: [String] = []
        for sample in cs.samples where sample.t < tube.steps.count {
            let s = tube.steps[sample.t]
            let worst = sample.lower.indices.map { i in
                (s.upper[i] - s.lower[i]) / max(sample.upper[i] - sample.lower[i], 1e-12)
            }.max() ?? .nan
            ratios.append(String(format: "%.2f", worst))
        }
        let mode = certifyFirst ? "certify-first" : "tight"
        return String(format: "%@ %@ %5d %@ | %8.1f (%6d) | %8.1f (%6d) | %@ %@ | %@",
                      fx.name.padding(toLength: 18, withPad: " ", startingAt: 0),
                      cs.label.padding(toLength: 11, withPad: " ", startingAt: 0), cs.horizon,
                      mode.padding(toLength: 13, withPad: " ", startingAt: 0),
                      timing.cold * 1000, timing.coldIterations, timing.warm * 1000, timing.warmIterations,
                      tube.verdict.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0),
                      tube.method.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0),
                      ratios.joined(separator: " "))
    }
}
