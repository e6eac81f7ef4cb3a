import Foundation
import XCTest
import LinearAlgebra
@testable import Network

/// Fixtures come from Scripts/make_onnx_fixtures.py (onnx + an independent reference).
let onnxFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/onnx")

struct ReferenceFile: Decodable {
    struct Model: Decodable {
        let file: String
        let input_size: Int
        let output_size: Int
        let layers_like: String?
        let inputs: [[Double]]
        let outputs: [[Double]]
    }
    struct Failure: Decodable {
        let file: String
        let expect: [String]
    }
    let models: [Model]
    let errors: [Failure]
}

final class ONNXImportTests: XCTestCase {
    func reference() throws -> ReferenceFile {
        let data = try Data(contentsOf: onnxFixtures.appendingPathComponent("reference.json"))
        return try JSONDecoder().decode(ReferenceFile.self, from: data)
    }

    func testForwardPassMatchesReferenceOutputs() throws {
        let ref = try reference()
        XCTAssertGreaterThanOrEqual(ref.models.count, 9)
        for m in ref.models {
            let model = try ONNXImporter.load(path: onnxFixtures.appendingPathComponent(m.file).path)
            XCTAssertEqual(model.graph.inputSize, m.input_size, m.file)
            XCTAssertEqual(model.graph.outputSize, m.output_size, m.file)
            for (x, want) in zip(m.inputs, m.outputs) {
                let y = model.graph.evaluate(x)
                XCTAssertEqual(y.count, want.count, m.file)
                for (a, b) in zip(y, want) {
                    XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(m.file) at \(x)")
                }
            }
        }
    }

    /// Exports of one network in different operator styles import to the same layers.
    func testOperatorStylesImportToTheSameLayers() throws {
        let ref = try reference()
        let groups = Dictionary(grouping: ref.models.filter { $0.layers_like != nil }, by: { $0.layers_like ?? "" })
        var compared = 0
        for (_, members) in groups where members.count > 1 {
            let graphs = try members.map { try ONNXImporter.load(path: onnxFixtures.appendingPathComponent($0.file).path).graph }
            for g in graphs.dropFirst() {
                XCTAssertEqual(g.nodes.count, graphs[0].nodes.count)
                for (a, b) in zip(g.nodes, graphs[0].nodes) {
                    XCTAssertEqual(a.size, b.size)
                    switch (a.operation, b.operation) {
                    case (.input, .input), (.elementwise, .elementwise): break
                    case (.affine(let p), .affine(let q)):
                        XCTAssertEqual(p.terms.count, q.terms.count)
                        for (s, t) in zip(p.terms, q.terms) {
                            XCTAssertEqual(s.input, t.input)
                            for (u, v) in zip(s.map.denseMatrix.data, t.map.denseMatrix.data) { XCTAssertEqual(u, v, accuracy: 1e-6) }
                        }
                        for (u, v) in zip(p.bias, q.bias) { XCTAssertEqual(u, v, accuracy: 1e-6) }
                    default:
                        XCTFail("layer kinds differ")
                    }
                }
                compared += 1
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 2, "the Gemm/MatMul and MATLAB pairs must both be compared")
    }

    func testImportedGraphsAreAlternatingAffineAndReLU() throws {
        let model = try ONNXImporter.load(path: onnxFixtures.appendingPathComponent("mlp_gemm.onnx").path)
        let kinds = model.graph.nodes.map { node -> String in
            switch node.operation {
            case .input: return "in"
            case .affine: return "affine"
            case .elementwise(let op, _): return "\(op)"
            case .product: return "product"
            }
        }
        XCTAssertEqual(kinds, ["in", "affine", "relu", "affine", "relu", "affine"])
        XCTAssertEqual(model.graph.nodes.map(\.size), [4, 16, 16, 16, 16, 2])
        XCTAssertEqual(model.graph.parameterCount, 4 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2)
    }

    func testMATLABExportNamesTheOneRealInput() throws {
        let model = try ONNXImporter.load(path: onnxFixtures.appendingPathComponent("matlab_style.onnx").path)
        XCTAssertEqual(model.inputName, "input")
        XCTAssertEqual(model.inputShape, [1, 1, 1, 5])
        XCTAssertLessThanOrEqual(model.opset, 8)
    }

    func testEveryErrorPathGivesAClearMessage() throws {
        let ref = try reference()
        XCTAssertGreaterThanOrEqual(ref.errors.count, 12)
        for e in ref.errors {
            let path = onnxFixtures.appendingPathComponent(e.file).path
            do {
                _ = try ONNXImporter.load(path: path)
                XCTFail("\(e.file) imported but must fail")
            } catch {
                let message = "\(error)"
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
                for word in e.expect {
                    XCTAssertTrue(message.contains(word), "\(e.file): '\(message)' lacks '\(word)'")
                }
            }
        }
    }

    func testMissingFileNamesThePath() {
        XCTAssertThrowsError(try ONNXImporter.load(path: "/nonexistent/model.onnx")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model.onnx"))
        }
    }
}
