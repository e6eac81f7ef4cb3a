import Foundation
import Network
import XCTest
import ONNXSchema

// One-node ONNX models built as protobufs, for tests of what the importer refuses.

func onnxModel(input shape: [Int64], node: Onnx_NodeProto, initializers: [Onnx_TensorProto] = []) throws -> Data {
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

func onnxInts(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
    var a = Onnx_AttributeProto()
    a.name = name
    a.type = .ints
    a.ints = values
    return a
}

func onnxNode(_ op: String, inputs: [String], _ attributes: [Onnx_AttributeProto]) -> Onnx_NodeProto {
    var n = Onnx_NodeProto()
    n.name = "\(op.lowercased())_under_test"
    n.opType = op
    n.input = inputs
    n.output = ["y"]
    n.attribute = attributes
    return n
}

func onnxKernel(_ dims: [Int64]) -> Onnx_TensorProto {
    var t = Onnx_TensorProto()
    t.name = "w"
    t.dataType = 1
    t.dims = dims
    t.floatData = [Float](repeating: 0.5, count: Int(dims.reduce(1, *)))
    return t
}

/// The import fails with one error naming the file, the node under test and `fragment`.
func assertImportRefused(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try ONNXImporter.load(data: data, file: "limits.onnx"), file: file, line: line) { error in
        let text = "\(error)"
        XCTAssertTrue(text.contains("limits.onnx") && text.contains("_under_test") && text.contains(fragment),
                      "\(text)", file: file, line: line)
    }
}

func onnxInt(_ name: String, _ value: Int64) -> Onnx_AttributeProto {
    var a = Onnx_AttributeProto()
    a.name = name
    a.type = .int
    a.i = value
    return a
}
