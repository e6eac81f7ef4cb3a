import Foundation
import XCTest
import Network
import ONNXSchema

/// Convolution and pooling nodes that ONNX itself deems invalid, or that would
/// need more memory than a layer may take, are refused with the node named.
/// The models are built here as ONNX protobufs (serialised bytes, imported as a file would be).
final class ConvImportLimitsTests: XCTestCase {
    func model(input shape: [Int64], node: Onnx_NodeProto, initializers: [Onnx_TensorProto] = []) throws -> Data {
        var dimensions = Onnx_TensorShapeProto()
        dimensions.dim = shape.map { v in var d = Onnx_TensorShapeProto.Dimension(); d.dimValue = v; return d }
        var type = Onnx_TypeProto()
        type.tensorType.elemType = 1
        type.tensorType.shape = dimensions
        var input = Onnx_ValueInfoProto()
        input.name = "x"
        input.type = type
        var output = Onnx_ValueInfoProto()
        output.name = "y"
        var graph = Onnx_GraphProto()
        graph.name = "limits"
        graph.input = [input]
        graph.output = [output]
        graph.node = [node]
        graph.initializer = initializers
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 19
        var m = Onnx_ModelProto()
        m.irVersion = 9
        m.opsetImport = [opset]
        m.graph = graph
        return try m.serializedData()
    }

    func ints(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values
        return a
    }

    func node(_ op: String, inputs: [String], _ attributes: [Onnx_AttributeProto]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.name = "\(op.lowercased())_under_test"
        n.opType = op
        n.input = inputs
        n.output = ["y"]
        n.attribute = attributes
        return n
    }

    func kernel(_ dims: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = "w"
        t.dataType = 1
        t.dims = dims
        t.floatData = [Float](repeating: 0.5, count: Int(dims.reduce(1, *)))
        return t
    }

    func assertRefused(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ONNXImporter.load(data: data, file: "limits.onnx"), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("limits.onnx") && text.contains("_under_test") && text.contains(fragment),
                          "\(text)", file: file, line: line)
        }
    }

    func testKernelsThatDoNotFitAreRefusedNotRoundedToOnePixel() throws {
        // ONNX: floor((2 - 3) / 2) + 1 = 0 output rows; truncating division would give 1.
        let conv = node("Conv", inputs: ["x", "w"], [ints("strides", [2, 2])])
        assertRefused(try model(input: [1, 1, 2, 2], node: conv, initializers: [kernel([1, 1, 3, 3])]), "does not fit")
        let pool = node("AveragePool", inputs: ["x"], [ints("kernel_shape", [3, 3]), ints("strides", [2, 2])])
        assertRefused(try model(input: [1, 1, 2, 2], node: pool), "does not fit")
        // The same convolution on a 3×3 input is valid: one output pixel.
        let ok = try ONNXImporter.load(data: try model(input: [1, 1, 3, 3], node: conv, initializers: [kernel([1, 1, 3, 3])]),
                                       file: "limits.onnx")
        XCTAssertEqual(ok.graph.evaluate([Double](repeating: 1, count: 9)), [4.5])
    }

    func testPoolingDilationsAndEmptyKernelsAreRefused() throws {
        let pool = node("AveragePool", inputs: ["x"], [ints("kernel_shape", [2, 2]), ints("dilations", [2, 2])])
        assertRefused(try model(input: [1, 1, 6, 6], node: pool), "dilations")
        let conv = node("Conv", inputs: ["x", "w"], [])
        assertRefused(try model(input: [1, 1, 4, 4], node: conv, initializers: [kernel([0, 1, 3, 3])]), "empty dimension")
    }

    func testPoolsTooLargeForMemoryAreRefusedBeforeAllocating() throws {
        // 4096 channels of a 4096×4096 window: 68 G kernel taps.
        let pool = node("AveragePool", inputs: ["x"], [ints("kernel_shape", [4096, 4096]), ints("pads", [2048, 2048, 2047, 2047])])
        assertRefused(try model(input: [1, 4096, 1, 1], node: pool), "exceeds")
    }
}
