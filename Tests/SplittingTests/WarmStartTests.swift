import XCTest
import OracleFixtures
import Bounds
import LinearAlgebra
import Network
@testable import Splitting

final class WarmStartTests: XCTestCase {
    /// After a 1% shift of the box (and the intermediate bounds that come with
    /// it, some neurons changing status), solving again from the previous
    /// workspace converges in far fewer iterations than from scratch, and the
    /// bounds stay certified and tight.
    func testWarmStartAfterOnePercentShift() throws {
        var cold = 0, warm = 0
        var statusChanges = 0
        for name in LPFixture.testSet {
            let fx = try LPFixture.load(name)
            let graph = try fx.graph()
            let base = fx.cases[0], shifted = fx.cases[1]
            let solver = try SplittingSolver(graph: graph, scaling: IntermediateBounds.crown(graph, box: base.box.interval))
            let n = graph.outputSize
            let c = outputObjectives(n)
            let b0 = nodeBounds(graph, box: base.box.interval, layers: base.lp_layers)
            let b1 = nodeBounds(graph, box: shifted.box.interval, layers: shifted.lp_layers)
            for w in graph.preActivationNodes {
                for i in 0..<graph.nodes[w].size {
                    let s0 = b0[w].lower[i] < 0 && b0[w].upper[i] > 0
                    let s1 = b1[w].lower[i] < 0 && b1[w].upper[i] > 0
                    if s0 != s1 { statusChanges += 1 }
                }
            }
            var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
            _ = try solver.solve(objectives: c, box: base.box.interval, bounds: b0, workspace: &ws)
            XCTAssertTrue(ws.isWarm)
            let warmSolution = try solver.solve(objectives: c, box: shifted.box.interval, bounds: b1, workspace: &ws)
            var fresh = solver.makeWorkspace(target: graph.output, columns: 2 * n)
            let coldSolution = try solver.solve(objectives: c, box: shifted.box.interval, bounds: b1, workspace: &fresh)
            XCTAssertTrue(warmSolution.warm)
            XCTAssertFalse(coldSolution.warm)
            cold += coldSolution.iterations
            warm += warmSolution.iterations
            for j in 0..<n {
                let lo = warmSolution.lower[j], hi = -warmSolution.lower[n + j]
                XCTAssertLessThanOrEqual(lo, shifted.lp.lower[j] + 1e-7, name)
                XCTAssertGreaterThanOrEqual(hi, shifted.lp.upper[j] - 1e-7, name)
                XCTAssertGreaterThanOrEqual(lo, shifted.lp.lower[j] - 1e-3 * max(1, abs(shifted.lp.lower[j])), name)
                XCTAssertLessThanOrEqual(hi, shifted.lp.upper[j] + 1e-3 * max(1, abs(shifted.lp.upper[j])), name)
            }
        }
        print("warm start: \(warm) iterations against \(cold) cold, over the test networks")
        XCTAssertGreaterThan(statusChanges, 0, "the shifted cases must change some neuron's status")
        // 0.65: since stable neurons keep their IBP bounds (CROWN's pass skips them), the solver's scaling
        // made cold solves faster (1,700 -> 1,420 iterations here) while warm ones stayed at 790-870, and
        // their count moves by tens with the last bit of the bounds (IBP's summation order).
        XCTAssertLessThan(Double(warm), 0.65 * Double(cold), "warm \(warm) vs cold \(cold)")
    }

    /// A deadline stops the solve; what it reports is still certified and never looser than CROWN.
    func testDeadlineGivesCertifiedBoundsAtLeastAsGoodAsCROWN() throws {
        let fx = try LPFixture.load("t_6_30_30_30_4")
        let graph = try fx.graph()
        let cs = fx.cases[0]
        let solver = try SplittingSolver(graph: graph)
        let bounds = nodeBounds(graph, box: cs.box.interval, layers: cs.lp_layers)
        var settings = Settings()
        settings.deadline = 0
        settings.tolerance = 1e-12
        let n = graph.outputSize
        var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
        let sol = try solver.solve(objectives: outputObjectives(n), box: cs.box.interval, bounds: bounds,
                               workspace: &ws, settings: settings)
        XCTAssertEqual(sol.stop, .deadline)
        XCTAssertLessThanOrEqual(sol.iterations, 1)
        for j in 0..<(2 * n) {
            XCTAssertGreaterThanOrEqual(sol.lower[j], sol.crownLower[j])
            let opt = j < n ? cs.lp.lower[j] : -cs.lp.upper[j - n]
            XCTAssertLessThanOrEqual(sol.lower[j], opt + 1e-7)
        }
    }

    /// Inactive columns are left alone and report -infinity, never a made-up bound.
    func testInactiveColumnsAreNotSolved() throws {
        let fx = try LPFixture.load("t_2_8_8_2")
        let graph = try fx.graph()
        let cs = fx.cases[0]
        let solver = try SplittingSolver(graph: graph)
        let bounds = nodeBounds(graph, box: cs.box.interval, layers: cs.lp_layers)
        var ws = solver.makeWorkspace(target: graph.output, columns: 4)
        let sol = try solver.solve(objectives: outputObjectives(2), box: cs.box.interval, bounds: bounds,
                               workspace: &ws, active: [true, false, false, true])
        XCTAssertEqual(sol.lower[1], -.infinity)
        XCTAssertEqual(sol.lower[2], -.infinity)
        XCTAssertLessThanOrEqual(sol.lower[0], cs.lp.lower[0] + 1e-7)
        XCTAssertGreaterThanOrEqual(-sol.lower[3], cs.lp.upper[1] - 1e-7)
    }
}
