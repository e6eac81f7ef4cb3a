import XCTest
import OracleFixtures
import Bounds
import LinearAlgebra
import Network
@testable import Splitting

final class SolverOracleTests: XCTestCase {
    /// With the oracle's own intermediate bounds, the certified bound is never on
    /// the wrong side of the HiGHS LP optimum, and reaches it within 1e-3·max(1,|opt|).
    func testCertifiedBoundsMatchHiGHSOnTheSameRelaxation() throws {
        for name in LPFixture.testSet {
            let fx = try LPFixture.load(name)
            let graph = try fx.graph()
            let solver = try SplittingSolver(graph: graph)
            for cs in fx.cases {
                let box = cs.box.interval
                let bounds = nodeBounds(graph, box: box, layers: cs.lp_layers)
                let n = graph.outputSize
                var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
                let sol = try solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds, workspace: &ws)
                for j in 0..<n {
                    let lo = sol.lower[j], hi = -sol.lower[n + j]
                    let optLo = cs.lp.lower[j], optHi = cs.lp.upper[j]
                    XCTAssertLessThanOrEqual(lo, optLo + 1e-7, "\(name)/\(cs.label) output \(j): lower above the LP optimum")
                    XCTAssertGreaterThanOrEqual(hi, optHi - 1e-7, "\(name)/\(cs.label) output \(j): upper below the LP optimum")
                    XCTAssertGreaterThanOrEqual(lo, optLo - 1e-3 * max(1, abs(optLo)), "\(name)/\(cs.label) output \(j): lower not tight (\(lo) vs \(optLo))")
                    XCTAssertLessThanOrEqual(hi, optHi + 1e-3 * max(1, abs(optHi)), "\(name)/\(cs.label) output \(j): upper not tight (\(hi) vs \(optHi))")
                    XCTAssertGreaterThanOrEqual(lo, sol.crownLower[j])
                }
                print("\(name)/\(cs.label): \(sol.iterations) iterations, \(String(format: "%.4f", sol.seconds)) s, stop \(sol.stop)")
            }
        }
    }
}

final class PipelineOracleTests: XCTestCase {
    /// With LP-tight intermediate bounds computed by the solver itself, the final
    /// bounds are within 1e-3 of HiGHS's LP on LP-optimal intermediate bounds (the
    /// tightest triangle relaxation), never past it, and never past the exact MILP range.
    func testLPIntermediatesReachTheTightestTriangleRelaxation() throws {
        try checkPipeline(names: LPFixture.testSet, chunk: SplittingSolver.warmLayerWidth)
    }

    /// The same, with every layer solved in chunks of 3 neurons (the path of
    /// layers wider than `warmLayerWidth`, such as convolutions): the same optimum.
    func testChunkedLPIntermediatesReachItToo() throws {
        try checkPipeline(names: Array(LPFixture.testSet.prefix(2)), chunk: 3)
    }

    func checkPipeline(names: [String], chunk: Int) throws {
        for name in names {
            let fx = try LPFixture.load(name)
            let graph = try fx.graph()
            for cs in fx.cases {
                let box = cs.box.interval
                let solver = try SplittingSolver(graph: graph, scaling: IntermediateBounds.crown(graph, box: box))
                var wss: [Int: Workspace] = [:]
                var stats = IntermediateStatistics()
                let bounds = try solver.intermediateBounds(box: box, method: .lp, workspaces: &wss, statistics: &stats, chunk: chunk)
                if chunk < 8 { XCTAssertTrue(wss.isEmpty, "chunked layers keep no warm workspace") }
                // Certified intermediate bounds contain the LP-optimal ones.
                for (w, r) in zip(graph.preActivationNodes, cs.lp_layers) {
                    for i in 0..<r.lower.count {
                        XCTAssertLessThanOrEqual(bounds[w].lower[i], r.lower[i] + 1e-7, "\(name) node \(w)")
                        XCTAssertGreaterThanOrEqual(bounds[w].upper[i], r.upper[i] - 1e-7, "\(name) node \(w)")
                    }
                }
                let n = graph.outputSize
                var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
                let sol = try solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds, workspace: &ws)
                for j in 0..<n {
                    let lo = sol.lower[j], hi = -sol.lower[n + j]
                    XCTAssertLessThanOrEqual(lo, cs.lp.lower[j] + 1e-7, "\(name)/\(cs.label)")
                    XCTAssertGreaterThanOrEqual(hi, cs.lp.upper[j] - 1e-7, "\(name)/\(cs.label)")
                    XCTAssertGreaterThanOrEqual(lo, cs.lp.lower[j] - 1e-3 * max(1, abs(cs.lp.lower[j])), "\(name)/\(cs.label) lower \(lo) vs \(cs.lp.lower[j])")
                    XCTAssertLessThanOrEqual(hi, cs.lp.upper[j] + 1e-3 * max(1, abs(cs.lp.upper[j])), "\(name)/\(cs.label) upper \(hi) vs \(cs.lp.upper[j])")
                    if let exact = cs.milp {
                        XCTAssertLessThanOrEqual(lo, exact.lower[j] + 1e-9)
                        XCTAssertGreaterThanOrEqual(hi, exact.upper[j] - 1e-9)
                    }
                    XCTAssertLessThanOrEqual(lo, cs.sampled.lower[j] + 1e-9)
                    XCTAssertGreaterThanOrEqual(hi, cs.sampled.upper[j] - 1e-9)
                }
                // Tighter than the LP on IBP intermediates, as it must be.
                for j in 0..<n { XCTAssertGreaterThanOrEqual(sol.lower[j], cs.lp_ibp.lower[j] - 1e-7) }
            }
        }
    }
}
