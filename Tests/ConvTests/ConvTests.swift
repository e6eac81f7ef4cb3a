import Foundation
import XCTest
import Bounds
import LinearAlgebra
import Network
import Splitting

/// Fixtures from Scripts/make_conv_examples.py (onnxruntime forward passes, HiGHS LP and MILP).
let convFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/conv")

final class ConvTests: XCTestCase {
    struct Forward: Decodable {
        struct Model: Decodable { let file: String; let input_size: Int; let inputs: [[Double]]; let outputs: [[Double]] }
        let models: [Model]
    }

    struct SmallLP: Decodable {
        struct Range: Decodable { let lower: [Double]; let upper: [Double] }
        let model: String
        let box: Range
        let ibp_layers: [Range]
        let lp_on_ibp: Range
        let milp: Range
        let sampled: Range?
    }

    /// Stride, padding, dilation, a residual Add of two conv branches, batch
    /// normalisation and average pooling: forward passes match onnxruntime.
    func testConvolutionalForwardPassesMatchTheReference() throws {
        let f = try JSONDecoder().decode(Forward.self, from: Data(contentsOf: convFixtures.appendingPathComponent("conv_forward.json")))
        XCTAssertGreaterThanOrEqual(f.models.count, 3)
        for m in f.models {
            let model = try ONNXImporter.load(path: convFixtures.appendingPathComponent(m.file).path)
            XCTAssertEqual(model.graph.inputSize, m.input_size, m.file)
            for (x, want) in zip(m.inputs, m.outputs) {
                let y = model.graph.evaluate(x)
                XCTAssertEqual(y.count, want.count, m.file)
                for (a, b) in zip(y, want) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), m.file) }
            }
        }
    }

    /// On a small conv net, with the same (IBP) intermediate bounds as HiGHS, the
    /// certified bounds reach the LP optimum within 1e-3 and never pass it or the exact range.
    func testSmallConvNetReachesHiGHSOnTheSameRelaxation() throws {
        try reachHiGHS(matrixFree: false)
    }

    /// The same with every affine node projected matrix-free (conjugate
    /// gradient), as large convolutional layers are.
    func testMatrixFreeProjectionReachesHiGHSToo() throws {
        try reachHiGHS(matrixFree: true)
    }

    func reachHiGHS(matrixFree: Bool) throws {
        let f = try JSONDecoder().decode(SmallLP.self, from: Data(contentsOf: convFixtures.appendingPathComponent("lp_small.json")))
        let graph = try ONNXImporter.load(path: convFixtures.appendingPathComponent(f.model).path).graph
        let box = Interval(lower: f.box.lower, upper: f.box.upper)
        var known = [Interval?](repeating: nil, count: graph.nodes.count)
        XCTAssertEqual(graph.preActivationNodes.count, f.ibp_layers.count)
        for (w, r) in zip(graph.preActivationNodes, f.ibp_layers) { known[w] = Interval(lower: r.lower, upper: r.upper) }
        let bounds = IBP.bounds(graph, box: box, known: known)
        // The import keeps convolutions as convolutions (kernels, not dense matrices).
        XCTAssertTrue(graph.nodes.contains { node in
            if case .affine(let a) = node.operation, case .convolution = a.terms[0].map { return true }
            return false
        })
        let solver = try SplittingSolver(graph: graph, scaling: bounds, matrixFree: matrixFree)
        let n = graph.outputSize
        var c = Matrix(rows: n, cols: 2 * n)
        for i in 0..<n { c[i, i] = 1; c[i, n + i] = -1 }
        var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
        let sol = try solver.solve(objectives: c, box: box, bounds: bounds, workspace: &ws)
        if matrixFree { XCTAssertGreaterThan(sol.projectionIterations, 0, "conjugate gradient ran") }
        else { XCTAssertEqual(sol.projectionIterations, 0, "small layers are factored") }
        for j in 0..<n {
            let lo = sol.lower[j], hi = -sol.lower[n + j]
            XCTAssertLessThanOrEqual(lo, f.lp_on_ibp.lower[j] + 1e-7)
            XCTAssertGreaterThanOrEqual(hi, f.lp_on_ibp.upper[j] - 1e-7)
            XCTAssertGreaterThanOrEqual(lo, f.lp_on_ibp.lower[j] - 1e-3 * max(1, abs(f.lp_on_ibp.lower[j])), "lower \(lo) vs \(f.lp_on_ibp.lower[j])")
            XCTAssertLessThanOrEqual(hi, f.lp_on_ibp.upper[j] + 1e-3 * max(1, abs(f.lp_on_ibp.upper[j])), "upper \(hi) vs \(f.lp_on_ibp.upper[j])")
            XCTAssertLessThanOrEqual(lo, f.milp.lower[j] + 1e-9)
            XCTAssertGreaterThanOrEqual(hi, f.milp.upper[j] - 1e-9)
        }
    }
}

final class DigitsCertificationTests: XCTestCase {
    struct Reference: Decodable {
        let images: [[Double]]
        let labels: [Int]
        let classes: [[Int]]
        let lower: Double
        let upper: Double
        let sampled_min_margin: [String: [[Double]]]
    }

    /// Certified margins of the digits CNN never exceed the worst case that sampling
    /// and gradient attacks found (an upper bound of the true minimum).
    func testCertifiedMarginsNeverExceedTheSampledWorstCase() throws {
        let root = convFixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: convFixtures.appendingPathComponent("digits_reference.json")))
        let graph = try ONNXImporter.load(path: root.appendingPathComponent("Config/digits/digits_cnn.onnx").path).graph
        var certifiedCount = 0
        var solver: SplittingSolver? = nil
        for (key, rows) in ref.sampled_min_margin {
            guard let eps = Double(key) else { continue }
            for i in 0..<min(8, ref.images.count) {
                let x = ref.images[i]
                let box = Interval(lower: x.map { max(ref.lower, $0 - eps) }, upper: x.map { min(ref.upper, $0 + eps) })
                let classes = ref.classes[i]
                var c = Matrix(rows: graph.outputSize, cols: classes.count)
                for (col, j) in classes.enumerated() { c[ref.labels[i], col] = 1; c[j, col] = -1 }
                if solver == nil { solver = try SplittingSolver(graph: graph, scaling: IntermediateBounds.crown(graph, box: box)) }
                guard let s = solver else { return XCTFail("no solver") }
                let bounds = IntermediateBounds.crown(graph, box: box, dual: s.dual)
                var settings = Settings()
                settings.maxIterations = 400
                var ws = s.makeWorkspace(target: graph.output, columns: classes.count)
                let sol = try s.solve(objectives: c, box: box, bounds: bounds, workspace: &ws, settings: settings)
                for col in 0..<classes.count {
                    XCTAssertLessThanOrEqual(sol.lower[col], rows[i][col] + 1e-9, "image \(i) class \(classes[col]) eps \(eps)")
                    XCTAssertGreaterThanOrEqual(sol.lower[col], sol.crownLower[col])
                }
                if sol.lower.allSatisfy({ $0 > 0 }) { certifiedCount += 1 }
            }
        }
        XCTAssertGreaterThan(certifiedCount, 0, "some digits must be certified")
    }
}
