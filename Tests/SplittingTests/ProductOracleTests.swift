import Bounds
import Foundation
import LinearAlgebra
import Network
import OracleFixtures
import Splitting
import XCTest

/// ONNX Mul and Div of two input-dependent tensors (Scripts/make_product_fixtures.py):
/// the forward pass equals onnxruntime's, and every bound holds the values the
/// script sampled and attacked. (The product net's LP and CROWN oracles run
/// in ActivationOracleTests, from the shared index.)
final class ProductOracleTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let box: LPFixture.Range
            let sampled: LPFixture.Range
            let attacked: LPFixture.Range
        }
        struct Forward: Decodable {
            let inputs: [[Double]]
            let outputs: [[Double]]
        }
        let name: String
        let cases: [Case]
        let forward: Forward
    }

    static let files = ["product_4_16_8_2.json", "divide_4_16_8_2.soundness.json"]

    func load(_ file: String) throws -> (Fixture, Graph) {
        let data = try Data(contentsOf: ActivationFixture.folder.appendingPathComponent(file))
        let fx = try JSONDecoder().decode(Fixture.self, from: data)
        let model = ActivationFixture.folder.appendingPathComponent(fx.name + ".onnx").path
        return (fx, try ONNXImporter.load(path: model).graph)
    }

    func testForwardPassMatchesOnnxruntime() throws {
        for file in Self.files {
            let (fx, graph) = try load(file)
            XCTAssertTrue(graph.nodes.contains { if case .product = $0.operation { return true }; return false },
                          "\(fx.name): no product node")
            for (x, expected) in zip(fx.forward.inputs, fx.forward.outputs) {
                let y = graph.evaluate(x)
                for (a, b) in zip(y, expected) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b)), fx.name) }
            }
        }
    }

    func testEveryMethodHoldsTheAttainedValues() throws {
        for file in Self.files {
            let (fx, graph) = try load(file)
            let n = graph.outputSize
            for (k, cs) in fx.cases.enumerated() {
                let box = cs.box.interval
                let ibp = IBP.bounds(graph, box: box)[graph.output]
                let bounds = IntermediateBounds.crown(graph, box: box)
                let solver = try SplittingSolver(graph: graph, scaling: bounds)
                let crown = solver.dual.evaluate(target: graph.output, objectives: outputObjectives(n), box: box,
                                                 bounds: bounds)
                var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
                let admm = try solver.solve(objectives: outputObjectives(n), box: box, bounds: bounds, workspace: &ws)
                for j in 0..<n {
                    let seenLo = min(cs.sampled.lower[j], cs.attacked.lower[j])
                    let seenHi = max(cs.sampled.upper[j], cs.attacked.upper[j])
                    for (method, lo, hi) in [("ibp", ibp.lower[j], ibp.upper[j]),
                                             ("crown", crown.lower[j], -crown.lower[n + j]),
                                             ("admm", admm.lower[j], -admm.lower[n + j])] {
                        let what = "\(fx.name) case \(k) output \(j) \(method)"
                        XCTAssertLessThanOrEqual(lo, seenLo, "\(what): lower above an attained value")
                        XCTAssertGreaterThanOrEqual(hi, seenHi, "\(what): upper below an attained value")
                        XCTAssertTrue(lo.isFinite && hi.isFinite, "\(what): not finite")
                    }
                    // The solver improves on CROWN (never worse, as it starts from it).
                    XCTAssertGreaterThanOrEqual(admm.lower[j], crown.lower[j] - 1e-9 * max(1, abs(crown.lower[j])))
                }
            }
        }
    }
}
