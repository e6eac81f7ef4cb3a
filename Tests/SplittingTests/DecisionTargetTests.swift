import XCTest
import OracleFixtures
import Bounds
import LinearAlgebra
import Network
@testable import Splitting

/// `Settings.targets` against the HiGHS LP optimum of the same relaxation: a target below the
/// optimum is proved (the certified bound clears it), one above it is given up, and neither
/// answer is wrong on any column.
final class DecisionTargetTests: XCTestCase {
    /// How far from the LP optimum the targets sit (relative to max(1, |opt|)).
    static let offset = 0.05

    func testTargetsBelowTheOptimumAreProvedAndAboveItGivenUp() throws {
        var proved = 0, givenUp = 0
        for name in LPFixture.testSet {
            let fx = try LPFixture.load(name)
            let graph = try fx.graph()
            let solver = try SplittingSolver(graph: graph)
            for cs in fx.cases {
                let box = cs.box.interval
                let bounds = nodeBounds(graph, box: box, layers: cs.lp_layers)
                let n = graph.outputSize
                // Column j ≤ n: min y_j (optimum lp.lower), column n + j: min −y_j (optimum −lp.upper).
                let optimum = cs.lp.lower + cs.lp.upper.map { -$0 }
                var settings = Settings()
                settings.targets = optimum.enumerated().map { j, opt in
                    let d = Self.offset * max(1, abs(opt))
                    return j % 2 == 0 ? opt - d : opt + d
                }
                var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
                let sol = try solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds,
                                           workspace: &ws, settings: settings)
                for (j, opt) in optimum.enumerated() {
                    let label = "\(name)/\(cs.label) column \(j)"
                    XCTAssertLessThanOrEqual(sol.lower[j], opt + 1e-7, "\(label): certified bound above the optimum")
                    if j % 2 == 0 {
                        XCTAssertGreaterThan(sol.lower[j], settings.targets?[j] ?? .infinity, "\(label): not proved")
                        proved += 1
                    } else {
                        // Unprovable by this relaxation: whatever it stopped at, it claims nothing past the optimum.
                        XCTAssertLessThan(sol.lower[j], settings.targets?[j] ?? -.infinity, "\(label): wrong side")
                        givenUp += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(proved, 0)
        XCTAssertGreaterThan(givenUp, 0)
    }

    /// Given up early, not at the iteration cap: a target above the optimum costs few iterations.
    func testAnUnprovableTargetStopsBeforeTheSolveConverges() throws {
        let p = try FirstCase("t_4_50_50_3")
        let full = try p.solve(Settings())
        var settings = Settings()
        let optimum = p.fixtureCase.lp.lower + p.fixtureCase.lp.upper.map { -$0 }
        settings.targets = optimum.map { $0 + 0.5 * max(1, abs($0)) }
        let early = try p.solve(settings)
        XCTAssertLessThan(early.columnIterations, full.columnIterations, "targets saved no iteration")
        XCTAssertTrue(early.lower.indices.allSatisfy { early.lower[$0] <= optimum[$0] + 1e-7 })
    }

    func testTargetsAreValidated() throws {
        let p = try FirstCase("t_2_8_8_2")
        let n = p.outputs
        for targets in [[Double?](repeating: 0, count: 2 * n + 1), [Double?](repeating: .nan, count: 2 * n)] {
            var s = Settings()
            s.targets = targets
            XCTAssertThrowsError(try p.solve(s)) { error in
                guard case SplittingError.invalidSetting(let name, _, _) = error else {
                    return XCTFail("unexpected error \(error)")
                }
                XCTAssertEqual(name, "targets")
            }
        }
    }
}

/// A fixture's first case with its LP-optimal layer bounds, solved cold on ±e_j of the outputs.
struct FirstCase {
    let fixtureCase: LPFixture.Case
    let solver: SplittingSolver
    let bounds: [Interval]
    let outputs: Int

    init(_ name: String) throws {
        let fx = try LPFixture.load(name)
        let graph = try fx.graph()
        fixtureCase = try XCTUnwrap(fx.cases.first)
        solver = try SplittingSolver(graph: graph)
        bounds = nodeBounds(graph, box: fixtureCase.box.interval, layers: fixtureCase.lp_layers)
        outputs = graph.outputSize
    }

    func solve(_ settings: Settings) throws -> Solution {
        var ws = solver.makeWorkspace(target: solver.graph.output, columns: 2 * outputs)
        return try solver.solve(objectives: outputObjectives(outputs), box: fixtureCase.box.interval,
                                bounds: bounds, workspace: &ws, settings: settings)
    }
}
