import XCTest
import LinearAlgebra
@testable import Network

final class GraphTests: XCTestCase {
    func testAffineWithTwoInputsCarriesAStateExactly() throws {
        // x' = A x + B u with u = relu(x0 - x1): a closed-loop step as one DAG.
        var g = Graph()
        let x = g.addInput(name: "x", size: 2)
        let pre = try g.addAffine(name: "pre", terms: [AffineTerm(input: x, weight: Matrix([[1, -1]]))], bias: [0])
        let u = try g.addReLU(name: "u", input: pre)
        let next = try g.addAffine(name: "next", terms: [
            AffineTerm(input: x, weight: Matrix([[1, 1], [0, 1]])),
            AffineTerm(input: u, weight: Matrix([[0.5], [1]])),
        ], bias: [0, 0])
        g.output = next
        XCTAssertEqual(g.evaluate([3, 1]), [3 + 1 + 1, 1 + 2])     // u = 2
        XCTAssertEqual(g.evaluate([1, 3]), [4, 3])                 // u = 0
        XCTAssertEqual(g.consumers[x].sorted(), [pre, next])
        XCTAssertEqual(g.preActivationNodes, [pre])
    }

    func testNormalizationGivesEveryReLUItsOwnAffineInput() throws {
        var g = Graph()
        let x = g.addInput(name: "x", size: 2)
        let r1 = try g.addReLU(name: "r1", input: x)       // ReLU straight on the input
        let r2 = try g.addReLU(name: "r2", input: r1)      // ReLU on a ReLU
        g.output = r2
        let n = g.normalized()
        for node in n.nodes {
            if case .elementwise(_, let u) = node.operation {
                guard case .affine = n.nodes[u].operation else { return XCTFail("relu reads a non-affine node") }
            }
        }
        XCTAssertEqual(n.evaluate([-1, 2]), [0, 2])
    }
}
