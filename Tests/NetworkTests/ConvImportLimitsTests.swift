import Foundation
import XCTest
import Network
import ONNXSchema

/// Convolution and pooling nodes that ONNX itself deems invalid, or that would
/// need more memory than a layer may take, are refused with the node named.
/// The models are built here as ONNX protobufs (ONNXTestModel.swift), imported as a file would be.
final class ConvImportLimitsTests: XCTestCase {
    func testKernelsThatDoNotFitAreRefusedNotRoundedToOnePixel() throws {
        // ONNX: floor((2 - 3) / 2) + 1 = 0 output rows; truncating division would give 1.
        let conv = onnxNode("Conv", inputs: ["x", "w"], [onnxInts("strides", [2, 2])])
        assertImportRefused(try onnxModel(input: [1, 1, 2, 2], node: conv, initializers: [onnxKernel([1, 1, 3, 3])]), "does not fit")
        let pool = onnxNode("AveragePool", inputs: ["x"], [onnxInts("kernel_shape", [3, 3]), onnxInts("strides", [2, 2])])
        assertImportRefused(try onnxModel(input: [1, 1, 2, 2], node: pool), "does not fit")
        // The same convolution on a 3×3 input is valid: one output pixel.
        let ok = try ONNXImporter.load(data: try onnxModel(input: [1, 1, 3, 3], node: conv, initializers: [onnxKernel([1, 1, 3, 3])]),
                                       file: "limits.onnx")
        XCTAssertEqual(ok.graph.evaluate([Double](repeating: 1, count: 9)), [4.5])
    }

    func testPoolingDilationsAndEmptyKernelsAreRefused() throws {
        let pool = onnxNode("AveragePool", inputs: ["x"], [onnxInts("kernel_shape", [2, 2]), onnxInts("dilations", [2, 2])])
        assertImportRefused(try onnxModel(input: [1, 1, 6, 6], node: pool), "dilations")
        let conv = onnxNode("Conv", inputs: ["x", "w"], [])
        assertImportRefused(try onnxModel(input: [1, 1, 4, 4], node: conv, initializers: [onnxKernel([0, 1, 3, 3])]), "empty dimension")
    }

    func testPoolsTooLargeForMemoryAreRefusedBeforeAllocating() throws {
        // 4096 channels of a 4096×4096 window: 68 G kernel taps.
        let pool = onnxNode("AveragePool", inputs: ["x"], [onnxInts("kernel_shape", [4096, 4096]), onnxInts("pads", [2048, 2048, 2047, 2047])])
        assertImportRefused(try onnxModel(input: [1, 4096, 1, 1], node: pool), "exceeds")
    }
}
