import Foundation
import XCTest
import Bounds
import LinearAlgebra
import Network
import Splitting
@testable import Reachability

/// Exact per-step ranges from Scripts/make_reach_fixtures.py (MILP over the unrolled loop).
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

struct ReachFixture: Decodable {
    struct Range: Decodable { let lower: [Double]; let upper: [Double] }
    struct Step: Decodable { let t: Int; let lower: [Double]; let upper: [Double] }
    struct Case: Decodable {
        let label: String
        let box: Range
        let horizon: Int
        let exact: [Step]
        let sampled: [Step]
        let unsafe_max: [[Double]]
    }
    let name: String
    let system: String
    let cases: [Case]

    static func all() throws -> [ReachFixture] {
        let dir = repository.appendingPathComponent("Tests/Fixtures/reach")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { try JSONDecoder().decode(ReachFixture.self, from: Data(contentsOf: dir.appendingPathComponent($0))) }
    }
}

/// An independent simulator: the plant equations and the controller's own forward pass.
func simulate(_ sys: SystemDescription, _ x0: [Double], steps: Int) -> [[Double]] {
    var x = x0
    var out = [x]
    for _ in 0..<steps {
        var u: [Double] = []
        if let c = sys.controller {
            u = c.evaluate(x)
            for i in u.indices {
                if let lo = sys.uMin { u[i] = max(u[i], lo[i]) }
                if let hi = sys.uMax { u[i] = min(u[i], hi[i]) }
            }
        }
        switch sys.plant {
        case .linear(let a, let b, let c):
            var next = c
            for i in 0..<x.count {
                for j in 0..<x.count { next[i] += a[i, j] * x[j] }
                if let b { for j in 0..<u.count { next[i] += b[i, j] * u[j] } }
            }
            x = next
        case .network(let model, _, let takesControl):
            x = model.evaluate(takesControl ? x + u : x)
        case .discrete(let p):
            x = p.step(x, u)   // the expressions' values (the numpy envelope is the fixture's oracle)
        case .ode(let p):
            x = p.flow(x, inputs: u, disturbances: []).state   // ODE tubes are checked against scipy (ODEReachTests)
        }
        out.append(x)
    }
    return out
}

final class ReachTests: XCTestCase {
    func loadSystem(_ fx: ReachFixture) throws -> SystemDescription {
        try SystemDescription.load(path: repository.appendingPathComponent(fx.system).path)
    }

    /// Every example: the certified tube contains the exact (MILP) range at every
    /// step, and thousands of independently simulated trajectories.
    func testTubesContainExactRangesAndSimulatedTrajectories() throws {
        let fixtures = try ReachFixture.all()
        XCTAssertGreaterThanOrEqual(fixtures.count, 2)
        for fx in fixtures {
            let sys = try loadSystem(fx)
            for cs in fx.cases {
                var analysis = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot, intermediates: .crown)
                // The tanh policy's unrolled loop converges slowly; every iterate's bound is
                // certified, so a small cap keeps the test quick and the check the same.
                analysis.settings.maxIterations = fx.name.hasPrefix("tanh_policy") ? 200 : 3000
                let box = Interval(lower: cs.box.lower, upper: cs.box.upper)
                let tube = try analysis.run(initial: box)
                XCTAssertEqual(tube.steps.count, cs.horizon + 1)
                for e in cs.exact {
                    let s = tube.steps[e.t]
                    for i in 0..<sys.stateCount {
                        XCTAssertLessThanOrEqual(s.lower[i], e.lower[i] + 1e-9, "\(fx.name)/\(cs.label) t=\(e.t) x\(i)")
                        XCTAssertGreaterThanOrEqual(s.upper[i], e.upper[i] - 1e-9, "\(fx.name)/\(cs.label) t=\(e.t) x\(i)")
                    }
                }
                var rng = SystemRandomNumberGenerator()
                for _ in 0..<2000 {
                    let x0 = (0..<sys.stateCount).map { Double.random(in: box.lower[$0]...box.upper[$0], using: &rng) }
                    let traj = simulate(sys, x0, steps: cs.horizon)
                    for (t, x) in traj.enumerated() {
                        let s = tube.steps[t]
                        for (row, d) in zip(s.directions, s.bounds) {
                            let v = zip(row, x).reduce(0) { $0 + $1.0 * $1.1 }
                            XCTAssertLessThanOrEqual(v, d + 1e-9, "\(fx.name)/\(cs.label) t=\(t)")
                        }
                    }
                }
                // The unrolled graph's simulation agrees with the independent one.
                let x0 = box.center
                let mine = analysis.loop.simulate(x0)
                for (a, b) in zip(mine, simulate(sys, x0, steps: cs.horizon)) {
                    for (p, q) in zip(a, b) { XCTAssertEqual(p, q, accuracy: 1e-9) }
                }
            }
        }
    }

    /// With LP-tight intermediate bounds, one-shot sets are never looser than recursive ones.
    func testOneShotIsNeverLooserThanRecursive() throws {
        let sys = try SystemDescription.load(path: repository.appendingPathComponent("Config/double_integrator/system.toml").path)
        let box = Interval(lower: [2.5, -0.25], upper: [3.0, 0.25])
        var one = try ReachAnalysis(system: sys, horizon: 4, strategy: .oneShot, intermediates: .lp)
        var rec = try ReachAnalysis(system: sys, horizon: 4, strategy: .recursive, intermediates: .lp)
        let a = try one.run(initial: box), b = try rec.run(initial: box)
        for t in 1...4 {
            for i in 0..<2 {
                let scale = 1e-3 * max(1, b.steps[t].upper[i] - b.steps[t].lower[i])
                XCTAssertGreaterThanOrEqual(a.steps[t].lower[i], b.steps[t].lower[i] - scale, "t=\(t)")
                XCTAssertLessThanOrEqual(a.steps[t].upper[i], b.steps[t].upper[i] + scale, "t=\(t)")
            }
        }
        // And strictly tighter at the end, where recursion's wrapping effect shows.
        XCTAssertLessThan(a.steps[4].upper[0] - a.steps[4].lower[0], b.steps[4].upper[0] - b.steps[4].lower[0])
    }

    /// Verdicts on cases built to be safe, falsifiable and unprovable.
    func testVerdicts() throws {
        let fx = try ReachFixture.all().first { $0.name == "double_integrator" }
        guard let fx, let cs = fx.cases.first else { return XCTFail("no double integrator fixture") }
        var sys = try loadSystem(fx)
        let box = Interval(lower: cs.box.lower, upper: cs.box.upper)
        // Safe: the shipped unsafe set (position >= 3.5).
        var a = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot, intermediates: .crown)
        let safe = try a.run(initial: box)
        XCTAssertEqual(safe.verdict, .safe)
        XCTAssertNil(safe.firstUnsafeStep)
        XCTAssertTrue(safe.steps.allSatisfy { ($0.margin ?? 0) > 0 })

        // Falsifiable: position <= exact min at step 2 + a bit is reached by a real trajectory.
        let minAt2 = cs.exact[1].lower[0]
        sys.unsafe = [.init(h: [[1, 0]], bound: [minAt2 + 0.05])]
        a = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot, intermediates: .crown)
        let unsafe = try a.run(initial: box)
        XCTAssertEqual(unsafe.verdict, .unsafe)
        guard let cex = unsafe.counterexample, let t = unsafe.firstUnsafeStep else { return XCTFail("no counterexample") }
        XCTAssertLessThanOrEqual(cex[t][0], minAt2 + 0.05)
        XCTAssertTrue(box.contains(cex[0]))
        XCTAssertEqual(simulate(sys, cex[0], steps: cs.horizon)[t][0], cex[t][0], accuracy: 1e-9)

        // Unprovable: a threshold between the exact minimum and the certified lower bound at the last step.
        let T = cs.horizon
        let tubeLower = safe.steps[T].lower[0]
        let exactLower = cs.exact[T - 1].lower[0]
        XCTAssertLessThan(tubeLower, exactLower)
        sys.unsafe = [.init(h: [[1, 0]], bound: [(tubeLower + exactLower) / 2])]
        a = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot, intermediates: .crown)
        let unknown = try a.run(initial: box)
        XCTAssertEqual(unknown.verdict, .unknown)
        XCTAssertEqual(unknown.firstUnsafeStep, T)
    }

    func testSystemFileErrorsNameTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-sys-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let controller = repository.appendingPathComponent("Config/double_integrator/controller.onnx").path
        let cases: [(String, String)] = [
            ("[plant]\nA = [[1.0, 1.0], [0.0]]\n", "[plant] A: row 1 has 1 values"),
            ("[plant]\nA = [[1.0]]\nB = [[1.0]]\n[controller]\nmodel = \"\(controller)\"\n", "[controller] model: takes 2 inputs"),
            ("[plant]\ntype = \"quantum\"\n", "[plant] type"),
            ("[plant]\nA = [[1.0]]\n[reach]\nhorizon = 0\n", "[reach] horizon"),
            ("[plant]\nA = [[1.0]]\n[reach]\nstrategy = \"fast\"\n", "[reach] strategy"),
            ("[plant]\nA = [[1.0]]\n[[safety.unsafe]]\nH = [[0.0]]\nh = [1.0]\n", "row 0 is zero"),
            ("[plant]\nA = [[1.0]]\n[sensor]\nradius = [-1.0]\n", "[sensor] radius"),
            ("[plant]\nA = [[1.0]] junk\n", ":2:"),
            ("[plant]\nA = [[1.0]]\nB = [[1.0, 2.0]]\n", "[plant] B"),
        ]
        for (k, (text, want)) in cases.enumerated() {
            let path = dir.appendingPathComponent("s\(k).toml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try SystemDescription.load(path: path), want) { error in
                XCTAssertTrue("\(error)".contains(want), "'\(error)' lacks '\(want)'")
                XCTAssertTrue("\(error)".contains("s\(k).toml"), "\(error)")
            }
        }
    }

    func testTOMLParserReadsTheSubsetWeUse() throws {
        let doc = try TOMLParser.parse("""
        # comment
        title = 'literal' # trailing
        [a]
        x = 1
        y = [1.5, -2e-3, 3_000,
             4] # multi-line
        "quoted key" = { p = true, q = "s\\n" }
        [[list.item]]
        v = 1
        [[list.item]]
        v = 2
        [a.sub]
        z = -inf
        """)
        XCTAssertEqual(doc["title"], .string("literal"))
        XCTAssertEqual(doc["a"]?.table?["y"], .array([.float(1.5), .float(-2e-3), .integer(3000), .integer(4)]))
        XCTAssertEqual(doc["a"]?.table?["quoted key"]?.table?["q"], .string("s\n"))
        XCTAssertEqual(doc["list"]?.table?["item"]?.array?.count, 2)
        XCTAssertEqual(doc["a"]?.table?["sub"]?.table?["z"], .float(-.infinity))
        XCTAssertThrowsError(try TOMLParser.parse("[a]\nx = 1\nx = 2\n")) { XCTAssertTrue("\($0)".contains("defined twice")) }
        XCTAssertThrowsError(try TOMLParser.parse("x = [1, 2\n")) { XCTAssertTrue("\($0)".contains("array")) }
    }
}

/// A jump of the sensed state (the centre moved by more than the radius) starts the
/// solves cold; a step along the trajectory keeps them warm.
final class WarmStartGuardTests: XCTestCase {
    func testAJumpStartsCold() throws {
        let path = repository.appendingPathComponent("Config/double_integrator/system.toml").path
        var a = try ReachAnalysis(system: try SystemDescription.load(path: path), intermediates: .crown)
        func box(_ x: Double, _ v: Double) -> Interval {
            Interval(lower: [x - 0.05, v - 0.05], upper: [x + 0.05, v + 0.05])
        }
        _ = try a.run(initial: box(2.0, 0.0))
        XCTAssertTrue(try a.run(initial: box(2.03, 0.01)).warm, "a step within the radius stays warm")
        XCTAssertFalse(try a.run(initial: box(0.5, 0.3)).warm, "a jump starts cold")
        XCTAssertTrue(ReachAnalysis.jumped(from: box(0, 0), to: box(0.06, 0)))
        XCTAssertFalse(ReachAnalysis.jumped(from: box(0, 0), to: box(0.05, -0.05)))
    }
}
