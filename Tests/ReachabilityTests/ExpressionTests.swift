import Foundation
import XCTest
@testable import Reachability

/// The system file's expressions: the grammar, every error path with its
/// column, `type = "discrete"` errors naming the file, key, index and column,
/// and the compiled graph's forward pass against the expressions' values.
final class ExpressionTests: XCTestCase {
    let names: Set<String> = ["x1", "x2", "u1", "g"]

    func testGrammarAndValues() throws {
        let env = ["x1": 0.7, "x2": -1.3, "u1": 2.0, "g": 9.81]
        let cases: [(String, Double)] = [
            ("x2", -1.3), ("-x1 + 0.1*sin(x2)", -0.7 + 0.1 * sin(-1.3)), ("-x1^2", -0.49), ("(x1 - x2)^3", pow(2.0, 3)),
            ("x1 / x2 * u1", 0.7 / -1.3 * 2), ("2 - 3 - 4", -5), ("g*cos(x1)/(1 + exp(x2))", 9.81 * cos(0.7) / (1 + exp(-1.3))),
            ("sqrt(u1) + tanh(x1) + sigmoid(x2) + tan(x1)", 2.0.squareRoot() + tanh(0.7) + 1 / (1 + exp(1.3)) + tan(0.7)),
            ("1.5e-1 * x1^0 + +x1", 0.15 + 0.7), ("  x1*x1  ", 0.49), ("2.5E+1", 25),
        ]
        for (text, expected) in cases {
            let e = try ExpressionParser.parse(text, names: names)
            XCTAssertEqual(e.value(env), expected, accuracy: 1e-12, text)
        }
        XCTAssertEqual(try ExpressionParser.parse("-x1^2", names: names), .negate(.power(.name("x1"), 2)))
    }

    func testEveryErrorNamesItsColumn() {
        let cases: [(String, Int, String)] = [
            ("", 1, "empty"), ("   ", 1, "empty"), ("x1 + x7", 6, "unknown name \"x7\""), ("2*foo(x1)", 3, "unknown function"),
            ("(x1 + 1", 8, "missing \")\""), ("sin(x1", 7, "missing \")\""), ("x1 ^ 2.5", 6, "integer"),
            ("x1^65", 4, "outside"), ("x1^-1", 4, "outside"), ("x1^2^2", 5, "parentheses"), ("1e999", 1, "not a finite"),
            ("x1 $ 2", 4, "unexpected \"$\""), ("x1 +", 5, "end of the expression"), ("2x1", 2, "unexpected \"x\""),
            ("x1 )", 4, "unexpected \")\""), ("x1^", 4, "integer"), (String(repeating: "(", count: 200) + "x1", 65, "nested"),
        ]
        for (text, column, fragment) in cases {
            XCTAssertThrowsError(try ExpressionParser.parse(text, names: names), text) { error in
                guard let e = error as? ExpressionError else { return XCTFail("\(text): \(error)") }
                XCTAssertEqual(e.column, column, "\(text): \(e)")
                XCTAssertTrue(e.description.contains(fragment), "\(text): \(e)")
            }
        }
    }

    func system(_ plant: String) -> String {
        """
        [plant]
        type = "discrete"
        \(plant)

        [[safety.unsafe]]
        H = [[1.0, 0.0]]
        h = [5.0]
        """
    }

    func testDiscretePlantErrorsNameTheFileKeyIndexAndColumn() {
        let cases: [(String, String)] = [
            ("states = [\"x1\", \"x2\"]\nnext = [\"x2\", \"-x1 + x7\"]", "sys.toml: [plant] next[1]: column 7: unknown name \"x7\""),
            ("states = [\"x1\"]\nnext = [\"x1\", \"x1\"]", "[plant] next: has 2 expressions; there are 1 states"),
            ("states = [\"x1\"]", "[plant] next: missing"),
            ("next = [\"1\"]", "[plant] states: missing or empty"),
            ("states = [\"x1\", \"x1\"]\nnext = [\"x1\", \"x1\"]", "named twice"),
            ("states = [\"sin\"]\nnext = [\"1\"]", "[plant] states[0]: \"sin\" is a function"),
            ("states = [\"1x\"]\nnext = [\"1\"]", "[plant] states[0]: must be a name"),
            ("states = [\"x1\"]\ninputs = [\"u1\"]\nnext = [\"x1 + u1\"]", "[plant] inputs: names 1 inputs; the controller gives 0"),
            ("states = [\"x1\"]\nnext = [3]", "[plant] next[0]: must be a string"),
            ("states = [\"x1\"]\nnext = [\"k*x1\"]\n[plant.constants]\nk = \"two\"", "[plant] constants.k: must be a finite number"),
        ]
        for (plant, fragment) in cases {
            XCTAssertThrowsError(try SystemDescription.parse(text: system(plant), file: "sys.toml", directory: "."), plant) {
                XCTAssertTrue("\($0)".contains(fragment), "\(plant): \($0)")
            }
        }
    }

    /// The unrolled graph's forward pass (operators, products, reciprocals, constants)
    /// equals the expressions' values step by step, and its IBP box holds them.
    func testCompiledGraphMatchesTheExpressions() throws {
        let plant = """
            states = ["x1", "x2", "x3"]
            next = ["x1 + dt*x2*x3", "x2 - dt*sin(x1)/(2 + cos(x3)) + x3^3/10", "exp(-x3)*tanh(x1) + sqrt(1 + x2^2) - tan(0.3)"]
            [plant.constants]
            dt = 0.1
            """
        let text = system(plant).replacingOccurrences(of: "H = [[1.0, 0.0]]", with: "H = [[1.0, 0.0, 0.0]]")
        let sys = try SystemDescription.parse(text: text, file: "sys.toml", directory: ".")
        guard case .discrete(let p) = sys.plant else { return XCTFail("not a discrete plant") }
        let loop = try ClosedLoop(sys, steps: 3)
        XCTAssertTrue(loop.graph.nodes.contains { if case .product = $0.operation { return true }; return false })
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let x0 = (0..<3).map { _ in Double.random(in: -1...1, using: &rng) }
            let mine = loop.simulate(x0)
            var x = x0
            for t in 1...3 {
                x = p.step(x, [])
                for i in 0..<3 { XCTAssertEqual(mine[t][i], x[i], accuracy: 1e-12 * max(1, abs(x[i])), "t=\(t) x\(i)") }
            }
        }
    }
}
