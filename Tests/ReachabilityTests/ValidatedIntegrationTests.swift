import Foundation
import XCTest
@testable import Reachability

/// Validated integration against ODEs with closed-form solutions: every
/// enclosure holds the true flow at the end of each period and on a dense
/// grid inside it. Symbolic derivatives against central differences.
final class ValidatedIntegrationTests: XCTestCase {
    func parse(_ texts: [String], _ names: Set<String>) throws -> [ScalarExpression] {
        try texts.map { try ExpressionParser.parse($0, names: names) }
    }

    /// Runs `periods` periods from the box and checks every start point of a grid
    /// against the closed form `flow(x0, t)`, at the ends and at 20 times inside each period.
    func check(_ name: String, _ field: [String], states: [String], box: [Span], period: Double, periods: Int,
               substeps: Int, order: Int = 3, flow: ([Double], Double) -> [Double]) throws {
        let f = try parse(field, Set(states))
        let integrator = TaylorIntegrator(states: states, field: f, order: order)
        var x = box
        func at(_ s: Span, _ k: Int, of n: Int) -> Double { min(s.lower + s.width * Double(k) / Double(n), s.upper) }
        var grid: [[Double]] = []
        if box.count == 1 {
            for i in 0...10 { grid.append([at(box[0], i, of: 10)]) }
        } else {
            for i in 0...6 { for j in 0...6 { grid.append([at(box[0], i, of: 6), at(box[1], j, of: 6)]) } }
        }
        for k in 0..<periods {
            let e = try XCTUnwrap(integrator.period(x, fixed: [:], length: period, substeps: substeps), "\(name) period \(k)")
            for x0 in grid {
                let end = flow(x0, Double(k + 1) * period)
                for i in end.indices {
                    XCTAssertTrue(e.end[i].contains(end[i]), "\(name) period \(k) x\(i): \(end[i]) outside \(e.end[i])")
                }
                for s in 0...20 {
                    let t = Double(k) * period + period * Double(s) / 20
                    let v = flow(x0, t)
                    for i in v.indices {
                        XCTAssertTrue(e.whole[i].contains(v[i]), "\(name) t=\(t) x\(i): \(v[i]) outside \(e.whole[i])")
                    }
                }
            }
            for s in e.end { XCTAssertTrue(s.isFinite && s.width < 10, "\(name): enclosure \(s) blew up") }
            x = e.end
        }
    }

    func testDecay() throws {
        try check("x' = -x", ["-x"], states: ["x"], box: [Span(0.9, 1.1)], period: 0.5, periods: 6, substeps: 5) {
            [$0[0] * exp(-$1)]
        }
    }

    func testQuadraticGrowth() throws {
        // x(t) = x0 / (1 − x0 t): blows up at t = 1/x0 ≥ 2; integrated to t = 1.
        try check("x' = x^2", ["x^2"], states: ["x"], box: [Span(0.4, 0.5)], period: 0.25, periods: 4, substeps: 10) {
            [$0[0] / (1 - $0[0] * $1)]
        }
    }

    func testHarmonicOscillator() throws {
        try check("oscillator", ["x2", "-x1"], states: ["x1", "x2"], box: [Span(0.9, 1.0), Span(-0.05, 0.05)],
                  period: 0.5, periods: 4, substeps: 10, order: 4) { x, t in
            [x[0] * cos(t) + x[1] * sin(t), -x[0] * sin(t) + x[1] * cos(t)]
        }
    }

    /// x' = A x against the matrix exponential (scaling and squaring of a 30-term series, written here).
    func testLinearSystemAgainstTheMatrixExponential() throws {
        let a = [[-0.5, 1.0], [-1.0, -0.5]]
        func expm(_ t: Double) -> [[Double]] {
            let s = 8.0, m = a.map { $0.map { $0 * t / pow(2, s) } }
            var result = [[1.0, 0.0], [0.0, 1.0]], term = result
            for k in 1...30 {
                term = (0..<2).map { i in (0..<2).map { j in (0..<2).reduce(0) { $0 + term[i][$1] * m[$1][j] } / Double(k) } }
                result = (0..<2).map { i in (0..<2).map { j in result[i][j] + term[i][j] } }
            }
            for _ in 0..<Int(s) {
                result = (0..<2).map { i in (0..<2).map { j in (0..<2).reduce(0) { $0 + result[i][$1] * result[$1][j] } } }
            }
            return result
        }
        try check("linear", ["-0.5*x1 + x2", "-x1 - 0.5*x2"], states: ["x1", "x2"],
                  box: [Span(0.5, 0.6), Span(-0.2, -0.1)], period: 0.4, periods: 5, substeps: 8, order: 4) { x, t in
            let e = expm(t)
            return [e[0][0] * x[0] + e[0][1] * x[1], e[1][0] * x[0] + e[1][1] * x[1]]
        }
    }

    struct FlowFixture: Decodable {
        struct Path: Decodable { let start: [Double]; let states: [[Double]] }
        let states: [String]
        let field: [String]
        let constants: [String: Double]
        let box: [[Double]]
        let period: Double
        let periods: Int
        let grid: Int
        let paths: [Path]
    }

    /// The pendulum with its input held, against scipy's DOP853 at rtol 1e-12
    /// (Scripts/make_flow_fixture.py): 49 starts of the box, at each period's end and
    /// at 20 times inside it. The slack is scipy's own error, far below the enclosures' widths.
    func testPendulumAgainstScipy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/flow/pendulum.json")
        let fx = try JSONDecoder().decode(FlowFixture.self, from: Data(contentsOf: url))
        let names = Set(fx.states).union(fx.constants.keys)
        let integrator = TaylorIntegrator(states: fx.states, field: try parse(fx.field, names))
        let fixed = fx.constants.mapValues { Span($0, $0) }
        var x = fx.box.map { Span($0[0], $0[1]) }
        let slack = 1e-10
        for k in 0..<fx.periods {
            let e = try XCTUnwrap(integrator.period(x, fixed: fixed, length: fx.period, substeps: 2), "period \(k)")
            for path in fx.paths {
                for s in 0...fx.grid {
                    let v = path.states[k * fx.grid + s]
                    for i in v.indices {
                        XCTAssertTrue(e.whole[i].lower - slack <= v[i] && v[i] <= e.whole[i].upper + slack,
                                      "t=\(k).\(s) x\(i): \(v[i]) outside \(e.whole[i])")
                    }
                }
                let end = path.states[(k + 1) * fx.grid]
                for i in end.indices {
                    XCTAssertTrue(e.end[i].lower - slack <= end[i] && end[i] <= e.end[i].upper + slack,
                                  "end of period \(k) x\(i): \(end[i]) outside \(e.end[i])")
                }
            }
            // Tight too: the end box within 1.2 times the sampled hull (the box's corners are among the starts).
            for i in x.indices {
                let values = fx.paths.map { $0.states[(k + 1) * fx.grid][i] }
                let hull = (values.max() ?? 0) - (values.min() ?? 0)
                XCTAssertLessThanOrEqual(e.end[i].width, 1.2 * hull, "period \(k) x\(i)")
            }
            x = e.end
        }
    }

    func testAnInputHeldOverThePeriod() throws {
        // x' = u with u ∈ [0.9, 1.1] held: x(t) = x0 + u t.
        let f = try parse(["u"], ["x", "u"])
        let integrator = TaylorIntegrator(states: ["x"], field: f)
        let e = try XCTUnwrap(integrator.period([Span(0, 0)], fixed: ["u": Span(0.9, 1.1)], length: 1, substeps: 4))
        XCTAssertTrue(e.end[0].contains(0.9) && e.end[0].contains(1.1))
        XCTAssertLessThan(e.end[0].width, 0.2 + 1e-9)
    }

    func testAStepTooLongForABlowUpIsRefused() throws {
        // x' = x² from 1 blows up at t = 1: no enclosure over [0, 2] exists.
        let f = try parse(["x^2"], ["x"])
        XCTAssertNil(TaylorIntegrator(states: ["x"], field: f).step([Span(1, 1)], fixed: [:], h: 2))
    }

    func testDerivativesAgainstCentralDifferences() throws {
        let names: Set<String> = ["x", "y"]
        let texts = ["x*y^3 - sin(x)/(2 + cos(y))", "exp(-x)*tanh(y) + sqrt(1 + x^2)", "sigmoid(x*y) + tan(0.3*x)",
                     "(x - y)^4 / (3 + x^2)", "-x^2 + 7"]
        for text in texts {
            let e = try ExpressionParser.parse(text, names: names)
            for (x, y) in [(0.3, -0.7), (1.1, 0.4), (-0.8, 1.3)] {
                for v in ["x", "y"] {
                    let h = 1e-6
                    var plus = ["x": x, "y": y], minus = plus
                    plus[v]! += h
                    minus[v]! -= h
                    let numeric = (e.value(plus) - e.value(minus)) / (2 * h)
                    let symbolic = e.derivative(v).value(["x": x, "y": y])
                    XCTAssertEqual(symbolic, numeric, accuracy: 1e-6 * max(1, abs(numeric)), "d(\(text))/d\(v) at (\(x), \(y))")
                }
            }
        }
    }

    func testIntervalExtensionHoldsSampledValues() throws {
        let names: Set<String> = ["x", "y"]
        for text in ["x*y^3 - sin(x)/(2 + cos(y))", "exp(-x)*tanh(y) + sqrt(1 + x^2)", "x*x - 2*x*y", "tan(x)/y"] {
            let e = try ExpressionParser.parse(text, names: names)
            let env = ["x": Span(-0.5, 0.9), "y": Span(0.4, 1.2)]
            let s = try XCTUnwrap(e.interval(env), text)
            for i in 0...20 {
                for j in 0...20 {
                    let v = e.value(["x": -0.5 + 1.4 * Double(i) / 20, "y": 0.4 + 0.8 * Double(j) / 20])
                    XCTAssertTrue(s.contains(v), "\(text): \(v) outside \(s)")
                }
            }
        }
        // A divisor whose range holds 0 has no enclosure.
        XCTAssertNil(try ExpressionParser.parse("1/y", names: names).interval(["y": Span(-1, 1)]))
        XCTAssertNil(try ExpressionParser.parse("sqrt(y)", names: names).interval(["y": Span(-1, 1)]))
    }
}
