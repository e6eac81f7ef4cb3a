import Bounds
import LinearAlgebra
import Network
import OracleFixtures
import Splitting
import XCTest

/// Certified bounds on networks with each activation, against oracles the
/// fixture script computed independently (numpy sampling and attacks, its own
/// CROWN, HiGHS over the polygon relaxation).
final class ActivationOracleTests: XCTestCase {
    func slack(_ v: Double) -> Double { 1e-9 * max(1, abs(v)) }

    /// Fed the LP-tight intermediates, the solver reaches HiGHS's optimum
    /// within 1e-3 and never passes it; its bounds hold every attained value.
    func testSolverReachesTheLPOptimumOverTheSamePolygons() throws {
        for name in try ActivationFixture.names() {
            let fx = try ActivationFixture.load(name)
            let graph = try fx.graph()
            for (c, cs) in fx.cases.enumerated() {
                let box = cs.box.interval
                let bounds = nodeBounds(graph, box: box, layers: cs.lp_layers)
                let solver = try SplittingSolver(graph: graph, scaling: bounds)
                let n = graph.outputSize
                var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
                var settings = Settings()
                settings.tolerance = 1e-5
                let sol = try solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds,
                                           workspace: &ws, settings: settings)
                for j in 0..<n {
                    let lo = sol.lower[j], hi = -sol.lower[n + j]
                    let what = "\(name) case \(c) output \(j)"
                    XCTAssertLessThanOrEqual(lo, cs.lp.lower[j] + slack(cs.lp.lower[j]), "\(what): lower past the LP")
                    XCTAssertGreaterThanOrEqual(hi, cs.lp.upper[j] - slack(cs.lp.upper[j]), "\(what): upper past the LP")
                    XCTAssertGreaterThanOrEqual(lo, cs.lp.lower[j] - 1e-3 * max(1, abs(cs.lp.lower[j])), "\(what): loose")
                    XCTAssertLessThanOrEqual(hi, cs.lp.upper[j] + 1e-3 * max(1, abs(cs.lp.upper[j])), "\(what): loose")
                    checkContainsSeen(lo, hi, cs, j, what)
                }
            }
        }
    }

    /// The whole pipeline (CROWN intermediates, then the solver) and our CROWN
    /// alone: sound, and never looser than the independent CROWN.
    func testPipelineIsSoundAndAtLeastAsTightAsCROWN() throws {
        for name in try ActivationFixture.names() {
            let fx = try ActivationFixture.load(name)
            let graph = try fx.graph()
            for (c, cs) in fx.cases.enumerated() {
                let box = cs.box.interval
                let bounds = IntermediateBounds.crown(graph, box: box)
                let solver = try SplittingSolver(graph: graph, scaling: bounds)
                let n = graph.outputSize
                let crown = solver.dual.evaluate(target: graph.output, objectives: outputObjectives(n), box: box,
                                                 bounds: bounds)
                var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
                let sol = try solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds, workspace: &ws)
                for j in 0..<n {
                    let what = "\(name) case \(c) output \(j)"
                    for (method, lo, hi) in [("crown", crown.lower[j], -crown.lower[n + j]),
                                             ("admm", sol.lower[j], -sol.lower[n + j])] {
                        checkContainsSeen(lo, hi, cs, j, "\(what) \(method)")
                        XCTAssertGreaterThanOrEqual(lo, cs.crown.lower[j] - 1e-7 * max(1, abs(cs.crown.lower[j])),
                                                    "\(what) \(method): lower looser than the independent CROWN")
                        XCTAssertLessThanOrEqual(hi, cs.crown.upper[j] + 1e-7 * max(1, abs(cs.crown.upper[j])),
                                                 "\(what) \(method): upper looser than the independent CROWN")
                    }
                }
            }
        }
    }

    func checkContainsSeen(_ lo: Double, _ hi: Double, _ cs: ActivationFixture.Case, _ j: Int, _ what: String) {
        let seenLo = min(cs.sampled.lower[j], cs.attacked.lower[j])
        let seenHi = max(cs.sampled.upper[j], cs.attacked.upper[j])
        XCTAssertLessThanOrEqual(lo, seenLo + slack(seenLo), "\(what): lower \(lo) above an attained value \(seenLo)")
        XCTAssertGreaterThanOrEqual(hi, seenHi - slack(seenHi), "\(what): upper \(hi) below an attained value \(seenHi)")
    }
}
