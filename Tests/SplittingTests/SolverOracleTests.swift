import XCTest
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
                let sol = solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds, workspace: &ws)
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
