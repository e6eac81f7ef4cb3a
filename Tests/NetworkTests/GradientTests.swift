import Foundation
import XCTest
import LinearAlgebra
@testable import Network

/// The backward pass against central differences of the forward pass, on smooth imported networks
/// (tanh, sigmoid, softplus, products), where the two must agree to the differences' own accuracy.
final class GradientTests: XCTestCase {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/activations")

    func testBackwardPassMatchesCentralDifferences() throws {
        var rng = SplitMix64(seed: 42)
        for name in ["tanh_4_64_64_2", "sigmoid_6_64_64_64_3", "softplus_4_32_32_2", "product_4_16_8_2"] {
            let graph = try ONNXImporter.load(path: folder.appendingPathComponent(name + ".onnx").path).graph
            for _ in 0..<5 {
                let x = (0..<graph.inputSize).map { _ in 2 * rng.unit() - 1 }
                let seed = (0..<graph.outputSize).map { _ in 2 * rng.unit() - 1 }
                let (y, g) = graph.gradient(at: x, seed: { _ in seed })
                XCTAssertEqual(y, graph.evaluate(x), name)
                let h = 1e-5
                for i in x.indices {
                    var up = x, down = x
                    up[i] += h
                    down[i] -= h
                    let dy = zip(graph.evaluate(up), graph.evaluate(down)).map { ($0 - $1) / (2 * h) }
                    let expected = zip(seed, dy).reduce(0) { $0 + $1.0 * $1.1 }
                    XCTAssertEqual(g[i], expected, accuracy: 1e-6 * max(1, abs(expected)), "\(name) input \(i)")
                }
            }
        }
    }

    /// Piecewise-linear networks: away from kinks the gradient is the active pattern's exact slope, so a
    /// step along it changes the output by exactly gradient·step (the network is linear there).
    func testReLUGradientIsThePatternsSlope() throws {
        let graph = try ONNXImporter.load(path: folder.appendingPathComponent("leaky_5_32_32_2.onnx").path).graph
        var rng = SplitMix64(seed: 7)
        let x = (0..<graph.inputSize).map { _ in 2 * rng.unit() - 1 }
        let (y, g) = graph.gradient(at: x, seed: { _ in [1, -1] })
        let d = (0..<graph.inputSize).map { _ in 1e-7 * (2 * rng.unit() - 1) }
        let y2 = graph.evaluate(zip(x, d).map { $0 + $1 })
        let change = (y2[0] - y2[1]) - (y[0] - y[1])
        XCTAssertEqual(change, zip(g, d).reduce(0) { $0 + $1.0 * $1.1 }, accuracy: 1e-12)
        XCTAssertTrue(g.contains { $0 != 0 })
    }
}
