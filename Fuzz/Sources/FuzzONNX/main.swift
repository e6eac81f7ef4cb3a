import Foundation
import Network

/// ONNX import, and a forward pass of whatever imports.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard let model = try? ONNXImporter.load(data: data, file: "fuzz.onnx") else { return 0 }
    let g = model.graph
    guard g.inputSize <= 1 << 16 else { return 0 }
    _ = g.evaluate([Double](repeating: 0.5, count: g.inputSize))
    return 0
}
