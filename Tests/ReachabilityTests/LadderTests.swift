import Foundation
import XCTest
@testable import Bounds
@testable import Reachability

/// The monitor's ladder (`certifyFirst`): IBP, CROWN, early falsification, then the solver with
/// decision targets. Each rung's answer must be one the full solve would give.
final class LadderTests: XCTestCase {
    func system(_ file: String) throws -> SystemDescription {
        try SystemDescription.load(path: repository.appendingPathComponent(file).path)
    }

    /// The quadrotor's messages are decided by interval bounds, and that tube holds trajectories
    /// simulated independently (no disturbance) and by the loop with random disturbances.
    func testIBPDecidesTheQuadrotorAndItsTubeHoldsTrajectories() throws {
        let sys = try system("Config/quadrotor/system.toml")
        var a = try ReachAnalysis(system: sys, intermediates: .crown)
        a.certifyFirst = true
        let r = try XCTUnwrap(sys.sensorRadius)
        let centre = [0.3, -0.2, 0.1, 0.05, 0.0, -0.05]
        let box = Interval(lower: zip(centre, r).map { $0 - $1 }, upper: zip(centre, r).map { $0 + $1 })
        let tube = try a.run(initial: box)
        XCTAssertEqual(tube.method, .ibp)
        XCTAssertEqual(tube.verdict, .safe)
        XCTAssertEqual(tube.iterations, 0)
        var rng = SystemRandomNumberGenerator()
        let w = try XCTUnwrap(sys.disturbance)
        for k in 0..<2000 {
            let x0 = (0..<sys.stateCount).map { Double.random(in: box.lower[$0]...box.upper[$0], using: &rng) }
            let disturbances = (0..<(a.horizon * w.lower.count)).map { i in
                Double.random(in: w.lower[i % w.lower.count]...w.upper[i % w.lower.count], using: &rng)
            }
            let trajectory = k % 2 == 0 ? simulate(sys, x0, steps: a.horizon)
                : a.loop.simulate(x0, disturbances: disturbances)
            for (t, x) in trajectory.enumerated() {
                for i in x.indices {
                    XCTAssertLessThanOrEqual(tube.steps[t].lower[i], x[i], "t=\(t) x\(i)")
                    XCTAssertGreaterThanOrEqual(tube.steps[t].upper[i], x[i], "t=\(t) x\(i)")
                }
            }
        }
    }

    /// A state heading into the unsafe set is answered `unsafe` by the falsifier right after
    /// CROWN, before any iteration, with a trajectory an independent simulation reproduces.
    func testAFalsifiedStateStopsBeforeTheSolver() throws {
        let sys = try system("Config/double_integrator/system.toml")
        var a = try ReachAnalysis(system: sys, intermediates: .crown)
        a.certifyFirst = true
        let box = Interval(lower: [3.25, 0.95], upper: [3.35, 1.05])
        let tube = try a.run(initial: box)
        XCTAssertEqual(tube.verdict, .unsafe)
        XCTAssertEqual(tube.method, .crown)
        XCTAssertEqual(tube.iterations, 0)
        let cex = try XCTUnwrap(tube.counterexample)
        let t = try XCTUnwrap(tube.firstUnsafeStep)
        XCTAssertTrue(box.contains(cex[0]))
        let replay = simulate(sys, cex[0], steps: a.horizon)
        XCTAssertEqual(replay[t][0], cex[t][0], accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(replay[t][0], 3.5, "the shipped unsafe set is position >= 3.5")
    }

    /// Where CROWN's bound falls short of a threshold the LP optimum clears, the solver rung proves it
    /// (decision targets stop it there); between the LP optimum and the exact (MILP) minimum, no rung
    /// can, and the answer is `unknown`, as from the full solve.
    func testTheSolverRungProvesWhatCROWNCannot() throws {
        let fx = try XCTUnwrap(try ReachFixture.all().first { $0.name == "double_integrator" })
        let cs = try XCTUnwrap(fx.cases.first)
        var sys = try system(fx.system)
        let box = Interval(lower: cs.box.lower, upper: cs.box.upper)
        let t = cs.horizon
        var quick = try ReachAnalysis(system: sys, horizon: t, strategy: .oneShot, intermediates: .crown)
        quick.certifyFirst = true
        let crownLower = try quick.run(initial: box).steps[t].lower[0]
        var tight = try ReachAnalysis(system: sys, horizon: t, strategy: .oneShot, intermediates: .crown)
        let lpLower = try tight.run(initial: box).steps[t].lower[0]
        let exactLower = cs.exact[t - 1].lower[0]
        XCTAssertLessThan(crownLower, lpLower - 1e-3, "the case needs a gap between CROWN and the LP")
        for (bound, want) in [((crownLower + lpLower) / 2, Verdict.safe), ((lpLower + exactLower) / 2, .unknown)] {
            sys.unsafe = [.init(h: [[1, 0]], bound: [bound], steps: t...t)]
            var ladder = try ReachAnalysis(system: sys, horizon: t, strategy: .oneShot, intermediates: .crown)
            ladder.certifyFirst = true
            var full = try ReachAnalysis(system: sys, horizon: t, strategy: .oneShot, intermediates: .crown)
            let got = try ladder.run(initial: box), expected = try full.run(initial: box)
            XCTAssertEqual(expected.verdict, want, "x1 <= \(bound) at step \(t)")
            XCTAssertEqual(got.verdict, want, "x1 <= \(bound) at step \(t)")
            XCTAssertEqual(got.method, .admm)
            print("ladder, x1 <= \(bound): \(got.iterations) iterations (full solve \(expected.iterations))")
            XCTAssertLessThanOrEqual(got.iterations, expected.iterations, "targets should not add iterations")
        }
    }

    /// The CROWN passes' storage is reused from message to message, not accumulated: after hundreds of
    /// messages the pool holds about what one pass uses.
    func testTheScratchPoolStaysBounded() throws {
        let sys = try system("Config/double_integrator/system.toml")
        var a = try ReachAnalysis(system: sys, intermediates: .crown)
        a.certifyFirst = true
        var rng = SystemRandomNumberGenerator()
        var sizes: [Int] = []
        for k in 0..<400 {
            let x = Double.random(in: -3...3, using: &rng), v = Double.random(in: -0.8...0.8, using: &rng)
            _ = try a.run(initial: Interval(lower: [x - 0.05, v - 0.05], upper: [x + 0.05, v + 0.05]))
            if k == 49 || k == 399 { sizes.append(a.scratch.pool.count + a.scratch.values.compactMap { $0 }.count) }
        }
        print("scratch: \(sizes[0]) buffers held after 50 messages, \(sizes[1]) after 400")
        XCTAssertLessThanOrEqual(sizes[1], 2 * a.loop.graph.nodes.count, "the pool grows with the messages")
        XCTAssertLessThanOrEqual(sizes[1], sizes[0] + 8)
    }

    /// Over states near the unsafe set, the ladder's verdict equals the full solve's (every
    /// objective to tolerance, falsification after it): no `safe` lost, none gained.
    func testTheLadderGivesTheFullSolvesVerdicts() throws {
        let sys = try system("Config/double_integrator/system.toml")
        var ladder = try ReachAnalysis(system: sys, intermediates: .crown)
        ladder.certifyFirst = true
        var rng = SystemRandomNumberGenerator()
        var seen: [Verdict: Int] = [:], methods: [TubeMethod: Int] = [:]
        for _ in 0..<60 {
            let x = Double.random(in: 2.8...3.45, using: &rng), v = Double.random(in: -0.2...1.0, using: &rng)
            let box = Interval(lower: [x - 0.05, v - 0.05], upper: [x + 0.05, v + 0.05])
            var full = try ReachAnalysis(system: sys, intermediates: .crown)
            let expected = try full.run(initial: box).verdict
            let got = try ladder.run(initial: box)
            XCTAssertEqual(got.verdict, expected, "state (\(x), \(v)): ladder \(got.method)")
            seen[expected, default: 0] += 1
            methods[got.method, default: 0] += 1
        }
        print("ladder: verdicts \(seen), decided by \(methods)")
        XCTAssertGreaterThan(seen[.safe] ?? 0, 0, "the states should include safe ones: \(seen)")
        XCTAssertGreaterThan((seen[.unsafe] ?? 0) + (seen[.unknown] ?? 0), 0, "and others: \(seen)")
    }
}
