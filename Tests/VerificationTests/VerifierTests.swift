import Foundation
import XCTest
import Network
@testable import Verification

/// Properties and answers from Scripts/make_vnnlib_fixtures.py (exact MILP, 5% margins).
let vnnlibFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/vnnlib")

struct ExpectedFile: Decodable {
    struct Case: Decodable {
        let property: String
        let model: String
        let expected: String
    }
    let cases: [Case]
}

final class VerifierTests: XCTestCase {
    func testAnswersMatchExactMILP() throws {
        let data = try Data(contentsOf: vnnlibFixtures.appendingPathComponent("expected.json"))
        let expected = try JSONDecoder().decode(ExpectedFile.self, from: data)
        XCTAssertGreaterThanOrEqual(expected.cases.count, 8)
        var sawSat = false, sawUnsat = false
        for c in expected.cases {
            let model = try ONNXImporter.load(path: vnnlibFixtures.appendingPathComponent(c.model).path)
            let property = try VNNLIBParser.parse(path: vnnlibFixtures.appendingPathComponent(c.property).path)
            let report = try Verifier(graph: model.graph).verify(property, timeout: 120)
            XCTAssertEqual(report.answer.word, c.expected, c.property)
            if case .sat(let x, let y) = report.answer {
                sawSat = true
                // The counterexample lies in one case's box and violates its output constraints.
                let y2 = model.graph.evaluate(x)
                XCTAssertEqual(y, y2)
                XCTAssertTrue(property.disjuncts.contains { d in
                    x.indices.allSatisfy { d.lower[$0] <= x[$0] && x[$0] <= d.upper[$0] }
                        && Verifier.violation(y2, d.outputs) <= 0
                }, c.property)
            }
            if report.answer == .unsat { sawUnsat = true }
        }
        XCTAssertTrue(sawSat && sawUnsat)
    }

    func testTimeoutIsReportedWhenTimeRunsOut() throws {
        let model = try ONNXImporter.load(path: vnnlibFixtures.appendingPathComponent("../lp/t_4_50_50_3.onnx").path)
        let property = try VNNLIBParser.parse(path: vnnlibFixtures.appendingPathComponent("t_4_50_50_3_unsat_cmp.vnnlib").path)
        let report = try Verifier(graph: model.graph).verify(property, timeout: 0)
        XCTAssertEqual(report.answer, .timeout)
    }

    /// A property built in code with the wrong sizes, or an unordered box, is an error before any work,
    /// not a trap.
    func testMismatchedPropertyIsAnErrorNotATrap() throws {
        let path = vnnlibFixtures.appendingPathComponent("../lp/t_4_50_50_3.onnx").path
        let model = try ONNXImporter.load(path: path)
        let g = model.graph
        let row = Property.Constraint(coefficients: [Double](repeating: 1, count: g.outputSize), bound: 0,
                                      strict: false)
        let good = Property.Disjunct(lower: [Double](repeating: 0, count: g.inputSize),
                                     upper: [Double](repeating: 1, count: g.inputSize), outputs: [row])
        var short = good
        short.lower.removeLast()
        var unordered = good
        unordered.lower[0] = 2
        var wideRow = good
        wideRow.outputs[0].coefficients.append(1)
        var nanRow = good
        nanRow.outputs[0].coefficients[0] = .nan
        let cases: [(Property, String)] = [
            (Property(inputCount: g.inputSize + 1, outputCount: g.outputSize, disjuncts: [good]), "declares"),
            (Property(inputCount: g.inputSize, outputCount: g.outputSize, disjuncts: [good, short]), "case 1"),
            (Property(inputCount: g.inputSize, outputCount: g.outputSize, disjuncts: [unordered]), "case 0"),
            (Property(inputCount: g.inputSize, outputCount: g.outputSize, disjuncts: [wideRow]), "case 0"),
            (Property(inputCount: g.inputSize, outputCount: g.outputSize, disjuncts: [nanRow]), "case 0"),
        ]
        for (property, words) in cases {
            XCTAssertThrowsError(try Verifier(graph: g).verify(property, timeout: 5)) { error in
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
    }

    /// A point is reported as a counterexample only if it is finite, in a case's box, and violates that
    /// case by a fresh forward pass: a NaN input (whose ReLUs would give 0) or one outside the box is not.
    func testOnlyCheckedPointsAreCounterexamples() throws {
        let path = vnnlibFixtures.appendingPathComponent("../lp/t_4_50_50_3.onnx").path
        let g = try ONNXImporter.load(path: path).graph
        let box = Property.Disjunct(lower: [Double](repeating: 0, count: g.inputSize),
                                    upper: [Double](repeating: 1, count: g.inputSize),
                                    outputs: [Property.Constraint(coefficients: [Double](repeating: 0, count: g.outputSize),
                                                                  bound: 0, strict: false)])
        let property = Property(inputCount: g.inputSize, outputCount: g.outputSize, disjuncts: [box])
        let v = Verifier(graph: g)
        let inside = [Double](repeating: 0.5, count: g.inputSize)
        XCTAssertEqual(v.confirmed(inside, property), g.evaluate(inside))
        var nan = inside
        nan[0] = .nan
        XCTAssertNil(v.confirmed(nan, property))
        var outside = inside
        outside[0] = 1.5
        XCTAssertNil(v.confirmed(outside, property))
        XCTAssertNil(v.confirmed(Array(inside.dropLast()), property))
    }

    /// An output that is NaN or infinite satisfies no row: it is never taken as a counterexample.
    func testNonFiniteOutputsAreNotCounterexamples() {
        let rows = [Property.Constraint(coefficients: [1, 0], bound: 0, strict: false)]
        XCTAssertLessThanOrEqual(Verifier.violation([-1, 0], rows), 0)
        XCTAssertGreaterThan(Verifier.violation([-1, .nan], rows), 0)
        XCTAssertGreaterThan(Verifier.violation([-.infinity, 0], rows), 0)
    }
}

final class VNNLIBParserTests: XCTestCase {
    func testParsesBoxesComparisonsAndDisjunctions() throws {
        let text = """
        ; a comment line
        (declare-const X_0 Real)
        (declare-const X_1 Real)
        (declare-const Y_0 Real)
        (declare-const Y_1 Real)
        (assert (<= X_0 1.0))   ; trailing comment
        (assert (>= X_0 1.0))
        (assert (or (and (<= X_1 0.5) (>= X_1 -0.5)) (and (<= X_1 3) (>= X_1 2))))
        (assert (or (and (<= Y_1 Y_0)) (and (>= Y_0 2.5) (<= (+ Y_0 (* -2 Y_1)) 1))))
        """
        let p = try VNNLIBParser.parse(text: text)
        XCTAssertEqual(p.inputCount, 2)
        XCTAssertEqual(p.outputCount, 2)
        XCTAssertEqual(p.disjuncts.count, 4)
        let first = p.disjuncts[0]
        XCTAssertEqual(first.lower, [1.0, -0.5])
        XCTAssertEqual(first.upper, [1.0, 0.5])
        // Y_1 <= Y_0  ->  -Y_0 + Y_1 <= 0
        XCTAssertEqual(first.outputs, [Property.Constraint(coefficients: [-1, 1], bound: 0, strict: false)])
        let second = p.disjuncts[1]
        // Y_0 >= 2.5 -> -Y_0 <= -2.5 ; Y_0 - 2 Y_1 <= 1
        XCTAssertEqual(second.outputs, [Property.Constraint(coefficients: [-1, 0], bound: -2.5, strict: false),
                                         Property.Constraint(coefficients: [1, -2], bound: 1, strict: false)])
        XCTAssertEqual(p.disjuncts[2].lower, [1.0, 2])
    }

    func testErrorsNameTheLineAndTheProblem() {
        let cases: [(String, String)] = [
            ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1))\n(assert (<= Y_0 0))", "X_0 is not bounded"),
            ("(declare-const X_0 Real)\n(assert (<= X_1 1))", ":2:"),
            ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1)", "unclosed"),
            ("(declare-const X_0 Int)", "only Real"),
            ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= (* Y_0 Y_0) 1))", "not linear"),
            ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (= Y_0 1))", "unsupported operator '='"),
            ("garbage", "outside parentheses"),
        ]
        for (text, want) in cases {
            XCTAssertThrowsError(try VNNLIBParser.parse(text: text, file: "p.vnnlib"), want) { error in
                XCTAssertTrue("\(error)".contains(want), "'\(error)' lacks '\(want)'")
                XCTAssertTrue("\(error)".hasPrefix("p.vnnlib:"), "\(error)")
            }
        }
    }
}
