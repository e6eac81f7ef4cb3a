import Foundation
import XCTest
import Network
import ONNXSchema

/// Shapes and axes read from a file may be any int64 or double: values that do
/// not fit an Int, or whose product overflows, are refused with the node named.
final class IntegerImportTests: XCTestCase {
    func int64Tensor(_ name: String, _ values: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = 7   // INT64
        t.dims = [Int64(values.count)]
        t.int64Data = values
        return t
    }

    func doubleTensor(_ name: String, _ values: [Double]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = 11  // DOUBLE
        t.dims = [Int64(values.count)]
        t.doubleData = values
        return t
    }

    func testReshapeToAShapeWhoseProductOverflowsIsRefused() throws {
        let reshape = onnxNode("Reshape", inputs: ["x", "shape"], [])
        let data = try onnxModel(input: [1, 4], node: reshape, initializers: [int64Tensor("shape", [1 << 32, 1 << 32])])
        assertImportRefused(data, "cannot reshape")
        let negative = try onnxModel(input: [1, 4], node: reshape, initializers: [int64Tensor("shape", [Int64.min, 2])])
        assertImportRefused(negative, "cannot reshape")
    }

    func testReshapeToDoublesThatAreNoIntsIsRefused() throws {
        let reshape = onnxNode("Reshape", inputs: ["x", "shape"], [])
        for bad in [1e19, -1e300, 2.5] {
            let data = try onnxModel(input: [1, 4], node: reshape, initializers: [doubleTensor("shape", [1, bad])])
            assertImportRefused(data, "not an integer")
        }
        // Non-finite values are refused as the initializer is read, before any node.
        for bad in [Double.nan, Double.infinity] {
            let data = try onnxModel(input: [1, 4], node: reshape, initializers: [doubleTensor("shape", [1, bad])])
            XCTAssertThrowsError(try ONNXImporter.load(data: data, file: "limits.onnx")) { error in
                XCTAssertTrue("\(error)".contains("non-finite"), "\(error)")
            }
        }
        // The largest double below 2^63 fits; the product check refuses it.
        let big = try onnxModel(input: [1, 4], node: reshape, initializers: [doubleTensor("shape", [9.2e18, 4])])
        assertImportRefused(big, "cannot reshape")
    }

    func testUnsqueezeAndSqueezeAxesOutOfRangeAreRefused() throws {
        let unsqueeze = onnxNode("Unsqueeze", inputs: ["x", "axes"], [])
        // Int64.max is 2^63 as a double: no Int holds it.
        let huge = try onnxModel(input: [1, 4], node: unsqueeze, initializers: [int64Tensor("axes", [Int64.max])])
        assertImportRefused(huge, "not an integer")
        for axes: [Int64] in [[Int64.min], [1 << 40]] {
            let data = try onnxModel(input: [1, 4], node: unsqueeze, initializers: [int64Tensor("axes", axes)])
            assertImportRefused(data, "cannot reshape")
        }
        let attribute = onnxNode("Unsqueeze", inputs: ["x"], [onnxInts("axes", [Int64.max])])
        assertImportRefused(try onnxModel(input: [1, 4], node: attribute), "cannot reshape")
        let flatten = onnxNode("Flatten", inputs: ["x"], [onnxInt("axis", Int64.max)])
        assertImportRefused(try onnxModel(input: [1, 4], node: flatten), "cannot reshape")
        let squeeze = onnxNode("Squeeze", inputs: ["x"], [onnxInts("axes", [Int64.min])])
        assertImportRefused(try onnxModel(input: [1, 4], node: squeeze), "cannot reshape")
    }

    func testValidReshapeStillImports() throws {
        let reshape = onnxNode("Reshape", inputs: ["x", "shape"], [])
        let data = try onnxModel(input: [1, 4], node: reshape, initializers: [int64Tensor("shape", [2, -1])])
        let m = try ONNXImporter.load(data: data, file: "limits.onnx")
        XCTAssertEqual(m.outputShape, [2, 2])
        XCTAssertEqual(m.graph.evaluate([1, 2, 3, 4]), [1, 2, 3, 4])
    }
}

/// Constants small in the file must not expand to an enormous tensor.
final class BroadcastLimitTests: XCTestCase {
    func testConstantsBroadcastingPastTheLimitAreRefused() throws {
        func column(_ name: String, _ dims: [Int64]) -> Onnx_TensorProto {
            var t = Onnx_TensorProto()
            t.name = name
            t.dataType = 1
            t.dims = dims
            t.floatData = [Float](repeating: 1, count: Int(dims.reduce(1, *)))
            return t
        }
        // 2^16 values each; their broadcast would be 2^32 doubles (32 GiB).
        let add = onnxNode("Add", inputs: ["a", "b"], [])
        let data = try onnxModel(input: [1, 4], node: add,
                                 initializers: [column("a", [65536, 1]), column("b", [1, 65536])])
        assertImportRefused(data, "exceeds")
    }
}
