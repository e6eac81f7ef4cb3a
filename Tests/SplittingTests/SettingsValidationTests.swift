import XCTest
import Bounds
import LinearAlgebra
import Network
import Splitting

/// Settings are validated once per solve, as OSQP's validate_settings does:
/// a library caller gets a thrown error naming the setting, never a trap.
final class SettingsValidationTests: XCTestCase {
    func smallProblem() throws -> (SplittingSolver, Interval, [Interval]) {
        var g = Graph()
        let x = g.addInput(name: "x", size: 2)
        let h = try g.addAffine(name: "h", terms: [AffineTerm(input: x, weight: Matrix([[1, -1], [0.5, 2]]))],
                                bias: [0.1, -0.2])
        let r = try g.addReLU(name: "r", input: h)
        g.output = try g.addAffine(name: "y", terms: [AffineTerm(input: r, weight: Matrix([[1, 1]]))], bias: [0])
        let box = Interval(lower: [-1, -1], upper: [1, 1])
        let bounds = IntermediateBounds.crown(g, box: box)
        return (try SplittingSolver(graph: g, scaling: bounds), box, bounds)
    }

    func testEachInvalidSettingIsNamed() throws {
        let (solver, box, bounds) = try smallProblem()
        let cases: [(String, (inout Settings) -> Void)] = [
            ("rho", { $0.rho = 0 }), ("rho", { $0.rho = .nan }), ("rho", { $0.rho = .infinity }),
            ("alpha", { $0.alpha = 0 }), ("alpha", { $0.alpha = 2 }), ("alpha", { $0.alpha = .nan }),
            ("tolerance", { $0.tolerance = 0 }), ("tolerance", { $0.tolerance = .nan }),
            ("maxIterations", { $0.maxIterations = -1 }),
            ("deadline", { $0.deadline = -1 }), ("deadline", { $0.deadline = .nan }), ("deadline", { $0.deadline = 1e300 }),
            ("andersonMemory", { $0.andersonMemory = -1 }), ("andersonMemory", { $0.andersonMemory = 1 << 40 }),
            ("certificatePeriod", { $0.certificatePeriod = 0 }), ("rhoUpdatePeriod", { $0.rhoUpdatePeriod = -3 }),
            ("projectionTolerance", { $0.projectionTolerance = -1 }),
            ("projectionMaxIterations", { $0.projectionMaxIterations = 0 }),
        ]
        for (name, change) in cases {
            var settings = Settings()
            change(&settings)
            var ws = solver.makeWorkspace(target: solver.graph.output, columns: 1)
            XCTAssertThrowsError(try solver.solve(objectives: Matrix([[1]]), box: box, bounds: bounds,
                                                  workspace: &ws, settings: settings)) { error in
                guard case SplittingError.invalidSetting(let named, _, _)? = error as? SplittingError else {
                    return XCTFail("\(name): \(error)")
                }
                XCTAssertEqual(named, name)
                XCTAssertTrue("\(error)".contains(name))
            }
        }
    }

    func testDefaultsAndEdgeValuesAreAccepted() throws {
        let (solver, box, bounds) = try smallProblem()
        var settings = Settings()
        settings.maxIterations = 0
        settings.deadline = 0
        settings.andersonMemory = 0
        settings.rhoUpdatePeriod = 0
        XCTAssertNoThrow(try settings.validate())
        XCTAssertNoThrow(try Settings().validate())
        var ws = solver.makeWorkspace(target: solver.graph.output, columns: 1)
        let sol = try solver.solve(objectives: Matrix([[1]]), box: box, bounds: bounds, workspace: &ws,
                                   settings: settings)
        // No iteration ran: CROWN's certified bound is the answer, and it holds at the box's corners.
        for x in [[-1.0, -1.0], [-1, 1], [1, -1], [1, 1]] {
            XCTAssertLessThanOrEqual(sol.lower[0], solver.graph.evaluate(x)[0])
        }
    }

    func testAGraphWhoseOutputIsAReLUIsRefusedUntilNormalized() throws {
        var g = Graph()
        let x = g.addInput(name: "x", size: 2)
        let h = try g.addAffine(name: "h", terms: [AffineTerm(input: x, weight: Matrix([[1, -1]]))], bias: [0])
        g.output = try g.addReLU(name: "r", input: h)
        XCTAssertThrowsError(try SplittingSolver(graph: g)) { error in
            XCTAssertEqual(error as? SplittingError, .nonAffineOutput(node: "r"))
        }
        let n = g.normalized()
        XCTAssertTrue(n.isAffine(n.output))
        XCTAssertEqual(n.evaluate([2, 0.5]), [1.5])
        XCTAssertEqual(n.evaluate([0.5, 2]), [0])
        XCTAssertNoThrow(try SplittingSolver(graph: n))
    }
}
