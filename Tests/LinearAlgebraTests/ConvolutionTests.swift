import XCTest
import LinearAlgebra

/// The convolution operator against a direct six-loop convolution written
/// here, and its transpose against the adjoint identity ⟨Kx, y⟩ = ⟨x, Kᵀy⟩.
final class ConvolutionTests: XCTestCase {
    /// ONNX Conv semantics, written out: out[o][oy][ox] = Σ w[o][c][ky][kx]·in[g·cg + c][iy][ix].
    func direct(_ x: [Double], c: Int, h: Int, w: Int, kernel: [Double], m: Int, kh: Int, kw: Int,
                stride: (Int, Int), pads: (Int, Int, Int, Int), dilation: (Int, Int), groups: Int) -> [Double] {
        let oh = (h + pads.0 + pads.2 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
        let ow = (w + pads.1 + pads.3 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
        let cg = c / groups, og = m / groups
        var out = [Double](repeating: 0, count: m * oh * ow)
        for o in 0..<m {
            let g = o / og
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s = 0.0
                    for ci in 0..<cg {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let iy = oy * stride.0 - pads.0 + ky * dilation.0
                                let ix = ox * stride.1 - pads.1 + kx * dilation.1
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                s += kernel[((o * cg + ci) * kh + ky) * kw + kx] * x[((g * cg + ci) * h + iy) * w + ix]
                            }
                        }
                    }
                    out[(o * oh + oy) * ow + ox] = s
                }
            }
        }
        return out
    }

    func testApplyMatchesDirectConvolutionAndTransposeIsTheAdjoint() {
        var rng = SplitMix64(seed: 7)
        func random(_ n: Int) -> [Double] { (0..<n).map { _ in rng.unit() * 2 - 1 } }
        // (c, h, w, m, kh, kw, stride, pads (t, l, b, r), dilation, groups)
        let cases: [(Int, Int, Int, Int, Int, Int, (Int, Int), (Int, Int, Int, Int), (Int, Int), Int)] = [
            (3, 7, 6, 4, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
            (2, 9, 8, 6, 3, 2, (2, 3), (0, 1, 2, 0), (1, 1), 1),
            (4, 8, 8, 4, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), 2),
            (3, 5, 5, 3, 2, 2, (2, 2), (1, 1, 1, 1), (1, 1), 3),   // depthwise
            (5, 4, 4, 2, 4, 4, (1, 1), (0, 0, 0, 0), (1, 1), 1),   // a dense layer written as a convolution
            (256, 20, 20, 2, 4, 4, (1, 1), (0, 0, 0, 0), (1, 1), 1),   // 289 output pixels × 4096 taps: two im2col tiles
        ]
        for (c, h, w, m, kh, kw, stride, pads, dilation, groups) in cases {
            let kernel = random(m * (c / groups) * kh * kw)
            let conv = Convolution2D(inChannels: c, inHeight: h, inWidth: w, outChannels: m,
                                     kernelHeight: kh, kernelWidth: kw, kernel: kernel,
                                     stride: stride, pads: pads, dilation: dilation, groups: groups)
            let map = LinearMap.convolution(conv)
            let columns = 3
            var x = Matrix(rows: map.cols, cols: columns)
            for j in 0..<columns { for i in 0..<map.cols { x[i, j] = rng.unit() * 2 - 1 } }
            var y = Matrix(rows: map.rows, cols: columns, repeating: 0.5)
            map.apply(x, into: &y, alpha: 2, beta: -1)
            for j in 0..<columns {
                let want = direct(x.column(j), c: c, h: h, w: w, kernel: kernel, m: m, kh: kh, kw: kw,
                                  stride: stride, pads: pads, dilation: dilation, groups: groups)
                XCTAssertEqual(want.count, map.rows)
                for i in 0..<map.rows { XCTAssertEqual(y[i, j], 2 * want[i] - 0.5, accuracy: 1e-12) }
            }
            var g = Matrix(rows: map.rows, cols: columns)
            for j in 0..<columns { for i in 0..<map.rows { g[i, j] = rng.unit() * 2 - 1 } }
            var back = Matrix(rows: map.cols, cols: columns)
            map.applyTranspose(g, into: &back)
            var kx = Matrix(rows: map.rows, cols: columns)
            map.apply(x, into: &kx)
            for j in 0..<columns {
                var lhs = 0.0, rhs = 0.0
                for i in 0..<map.rows { lhs += kx[i, j] * g[i, j] }
                for i in 0..<map.cols { rhs += x[i, j] * back[i, j] }
                XCTAssertEqual(lhs, rhs, accuracy: 1e-10 * max(1, abs(lhs)))
            }
            // The dense form agrees, and |K| is the convolution with |kernel| (small cases).
            guard map.rows * map.cols <= 1 << 20 else { continue }
            let dense = map.denseMatrix
            var viaDense = Matrix(rows: map.rows, cols: columns)
            BLAS.gemm(dense, x, into: &viaDense)
            for i in 0..<viaDense.data.count { XCTAssertEqual(viaDense.data[i], kx.data[i], accuracy: 1e-12) }
            XCTAssertEqual(map.magnitude.denseMatrix, dense.magnitude)
        }
    }

    /// Scaling folds into the kernel when constant per channel and wraps the map otherwise;
    /// composition and sums keep the dense meaning.
    func testScalingCompositionAndSumsAgreeWithDenseAlgebra() {
        var rng = SplitMix64(seed: 11)
        func random(_ n: Int) -> [Double] { (0..<n).map { _ in rng.unit() * 2 - 1 } }
        let conv = Convolution2D(inChannels: 2, inHeight: 4, inWidth: 4, outChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                 kernel: random(54), pads: (1, 1, 1, 1))
        let map = LinearMap.convolution(conv)
        let perChannelIn = (0..<2).flatMap { ch in [Double](repeating: Double(ch) + 0.5, count: 16) }
        let perChannelOut = (0..<3).flatMap { ch in [Double](repeating: 2 - Double(ch), count: 16) }
        let perPixel = random(48)
        func dense(left: [Double]?, right: [Double]?) -> Matrix {
            var d = map.denseMatrix
            for j in 0..<d.cols { for i in 0..<d.rows { d[i, j] *= (left?[i] ?? 1) * (right?[j] ?? 1) } }
            return d
        }
        let folded = map.scaled(left: perChannelOut, right: perChannelIn)
        if case .convolution = folded {} else { XCTFail("per-channel scales fold into the kernel") }
        XCTAssertEqual(folded.denseMatrix, dense(left: perChannelOut, right: perChannelIn))
        let wrapped = map.scaled(left: perPixel, right: perChannelIn)
        if case .scaled = wrapped {} else { XCTFail("per-pixel scales wrap the map") }
        let want = dense(left: perPixel, right: perChannelIn)
        for (a, b) in zip(wrapped.denseMatrix.data, want.data) { XCTAssertEqual(a, b, accuracy: 1e-14) }
        XCTAssertEqual(wrapped.magnitude.denseMatrix, want.magnitude)
        // With groups, each output channel reads only its group's input channels.
        let grouped = LinearMap.convolution(Convolution2D(inChannels: 4, inHeight: 3, inWidth: 3, outChannels: 6,
            kernelHeight: 2, kernelWidth: 2, kernel: random(6 * 2 * 4), pads: (1, 0, 0, 1), groups: 2))
        let inScale = (0..<4).flatMap { ch in [Double](repeating: Double(ch) - 1.5, count: 9) }
        let outScale = (0..<6).flatMap { ch in [Double](repeating: 0.25 * Double(ch + 1), count: grouped.rows / 6) }
        let foldedGroups = grouped.scaled(left: outScale, right: inScale)
        if case .convolution = foldedGroups {} else { XCTFail("per-channel scales fold into a grouped kernel") }
        var wantGrouped = grouped.denseMatrix
        for j in 0..<wantGrouped.cols { for i in 0..<wantGrouped.rows { wantGrouped[i, j] *= outScale[i] * inScale[j] } }
        for (a, b) in zip(foldedGroups.denseMatrix.data, wantGrouped.data) { XCTAssertEqual(a, b, accuracy: 1e-14) }
        // A 2 × 48 head after the convolution composes into one dense term.
        let head = Matrix(rows: 2, cols: 48, columnMajor: random(96))
        guard let product = LinearMap.compose(.dense(head), map, maximumDenseEntries: 1 << 20) else {
            return XCTFail("a small head composes")
        }
        let expected = head * map.denseMatrix
        for (a, b) in zip(product.denseMatrix.data, expected.data) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertNil(LinearMap.compose(map, .convolution(Convolution2D(inChannels: 3, inHeight: 4, inWidth: 4, outChannels: 2,
            kernelHeight: 3, kernelWidth: 3, kernel: random(54), pads: (1, 1, 1, 1))), maximumDenseEntries: 1 << 20),
            "two convolutions stay two nodes")
        guard let twice = LinearMap.sum(map, map, maximumDenseEntries: 1 << 20), case .convolution = twice else {
            return XCTFail("convolutions of one geometry add kernels")
        }
        XCTAssertEqual(twice.denseMatrix, 2 * map.denseMatrix)
    }
}
