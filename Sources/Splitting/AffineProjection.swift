import LinearAlgebra
import Network

/// Projection onto the graph {(x, z) : z = W x + b} of an affine node, where x
/// stacks the node's inputs. Small layers are factored once (I + WᵀW or, when
/// wider at the input, I + W Wᵀ) and shared by every solve. Layers too large to
/// factor (convolutions over images) are solved matrix-free: preconditioned
/// conjugate gradient on (I + WᵀW) x = a + Wᵀ(c − b), warm-started from the
/// previous iterate, with z = W x + b set exactly. An inexact x only perturbs
/// the ADMM iterate; the reported bound is the dual function evaluated at the
/// multipliers, which is valid whatever they are.
public final class AffineProjection: Sendable {
    public let bias: [Double]
    public let inputSizes: [Int]
    public let outputCount: Int
    public let inputCount: Int
    let method: Method

    enum Method: Sendable {
        /// Dense W (M × N), Cholesky factor of the smaller Gram matrix plus I.
        case factored(weight: Matrix, woodbury: Bool, factor: CholeskyFactor)
        /// The terms' maps and the Jacobi preconditioner 1 / diag(I + WᵀW).
        case conjugateGradient(terms: [LinearMap], inverseDiagonal: [Double])
    }

    /// Materialising W costs M·N numbers and factoring min(M, N)³/3 flops;
    /// above these sizes the layer is solved matrix-free.
    public static let maximumFactoredEntries = 4 * 1024 * 1024
    public static let maximumFactoredOrder = 2048
    /// Below this many dense entries a layer is always factored (exact and cheap).
    public static let minimumMatrixFreeEntries = 1 << 18

    /// `matrixFree`: nil picks by size; true or false forces a method.
    public init(_ affine: Affine, matrixFree: Bool? = nil) throws {
        let m = affine.bias.count
        let sizes = affine.terms.map { $0.map.cols }
        let n = sizes.reduce(0, +)
        bias = affine.bias
        inputSizes = sizes
        outputCount = m
        inputCount = n
        let small = m * n <= Self.maximumFactoredEntries && min(m, n) <= Self.maximumFactoredOrder
        // A factored step costs about four dense products (W, Wᵀ, two triangular
        // solves); a conjugate-gradient step two structured ones, and a warm
        // solve takes a handful of steps. So a convolution much cheaper than its
        // dense matrix is solved matrix-free even when it could be factored.
        let structured = affine.terms.reduce(0) { $0 + $1.map.applyCost }
        let structuredWins = m * n >= Self.minimumMatrixFreeEntries && m * n > 4 * structured
        if !(matrixFree ?? (!small || structuredWins)) {
            var w = Matrix(rows: m, cols: n)
            var offset = 0
            for t in affine.terms {
                let dense = t.map.denseMatrix
                for j in 0..<dense.cols {
                    for i in 0..<m { w.data[i + (offset + j) * m] = dense.data[i + j * m] }
                }
                offset += dense.cols
            }
            let woodbury = m <= n
            var gram = woodbury ? Matrix(rows: m, cols: m) : Matrix(rows: n, cols: n)
            BLAS.gemm(w, w, into: &gram, transposeA: !woodbury, transposeB: woodbury)
            for i in 0..<gram.rows { gram[i, i] += 1 }
            method = .factored(weight: w, woodbury: woodbury, factor: try CholeskyFactor(gram))
        } else {
            var inverse: [Double] = []
            let ones = [Double](repeating: 1, count: m)
            for t in affine.terms {
                var d = [Double](repeating: 0, count: t.map.cols)
                t.map.squared.applyTranspose(ones, into: &d)
                inverse += d.map { 1 / (1 + $0) }
            }
            method = .conjugateGradient(terms: affine.terms.map(\.map), inverseDiagonal: inverse)
        }
    }

    public var isMatrixFree: Bool {
        if case .conjugateGradient = method { return true } else { return false }
    }

    /// In place: `a` (N × K) becomes x, `c` (M × K) becomes z; `work` holds M × K.
    /// `guess` (N × K), when given, starts the matrix-free solve. Returns the
    /// conjugate-gradient iterations taken (0 when factored).
    @discardableResult
    func project(a: UnsafeMutablePointer<Double>, c: UnsafeMutablePointer<Double>,
                 columns k: Int, work: UnsafeMutablePointer<Double>,
                 guess: UnsafePointer<Double>? = nil, tolerance: Double = 1e-7, maxIterations: Int = 100) -> Int {
        if k == 0 { return 0 }
        switch method {
        case .factored(let weight, let woodbury, let factor):
            projectFactored(weight: weight, woodbury: woodbury, factor: factor, a: a, c: c, columns: k, work: work)
            return 0
        case .conjugateGradient(let terms, let inverseDiagonal):
            return projectMatrixFree(terms: terms, inverseDiagonal: inverseDiagonal, a: a, c: c, columns: k,
                                     work: work, guess: guess, tolerance: tolerance, maxIterations: maxIterations)
        }
    }

    private func projectFactored(weight: Matrix, woodbury: Bool, factor: CholeskyFactor,
                                 a: UnsafeMutablePointer<Double>, c: UnsafeMutablePointer<Double>,
                                 columns k: Int, work: UnsafeMutablePointer<Double>) {
        let m = outputCount, n = inputCount
        weight.data.withUnsafeBufferPointer { wp in
            let w = wp.baseAddress
            if woodbury {
                // ν = (I + W Wᵀ)⁻¹ (W a + b − c); x = a − Wᵀ ν; z = c + ν
                if n > 0 {
                    BLAS.gemm(m: m, n: k, k: n, alpha: 1, a: w, lda: m, transposeA: false,
                              b: a, ldb: n, transposeB: false, beta: 0, c: work, ldc: m)
                } else {
                    for i in 0..<(m * k) { work[i] = 0 }
                }
                for col in 0..<k {
                    let base = col * m
                    for i in 0..<m { work[base + i] += bias[i] - c[base + i] }
                }
                factor.solve(work, columns: k)
                if n > 0 {
                    BLAS.gemm(m: n, n: k, k: m, alpha: -1, a: w, lda: m, transposeA: true,
                              b: work, ldb: m, transposeB: false, beta: 1, c: a, ldc: n)
                }
                for i in 0..<(m * k) { c[i] += work[i] }
            } else {
                // x = (I + Wᵀ W)⁻¹ (a + Wᵀ (c − b)); z = W x + b
                for col in 0..<k {
                    let base = col * m
                    for i in 0..<m { work[base + i] = c[base + i] - bias[i] }
                }
                BLAS.gemm(m: n, n: k, k: m, alpha: 1, a: w, lda: m, transposeA: true,
                          b: work, ldb: m, transposeB: false, beta: 1, c: a, ldc: n)
                factor.solve(a, columns: k)
                BLAS.gemm(m: m, n: k, k: n, alpha: 1, a: w, lda: m, transposeA: false,
                          b: a, ldb: n, transposeB: false, beta: 0, c: c, ldc: m)
                for col in 0..<k {
                    let base = col * m
                    for i in 0..<m { c[base + i] += bias[i] }
                }
            }
        }
    }

    /// out (M × K) = Σ_j W_j x_j for x stacking the inputs (N × K).
    private func forward(_ terms: [LinearMap], _ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, columns k: Int,
                         scratch: inout [Double]) {
        let m = outputCount, n = inputCount
        for i in 0..<(m * k) { out[i] = 0 }
        var offset = 0
        for (j, t) in terms.enumerated() {
            let nj = inputSizes[j]
            if terms.count == 1 {
                t.apply(x, out, columns: k, beta: 1)
            } else {
                // The input block of term j is strided in the stack: gather it.
                if scratch.count < nj * k { scratch = [Double](repeating: 0, count: nj * k) }
                scratch.withUnsafeMutableBufferPointer { sp in
                    guard let s = sp.baseAddress else { return }
                    for col in 0..<k { for i in 0..<nj { s[i + col * nj] = x[offset + i + col * n] } }
                    t.apply(s, out, columns: k, beta: 1)
                }
            }
            offset += nj
        }
    }

    /// out (N × K) = Wᵀ y, block by block.
    private func backward(_ terms: [LinearMap], _ y: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, columns k: Int,
                          scratch: inout [Double]) {
        let n = inputCount
        var offset = 0
        for (j, t) in terms.enumerated() {
            let nj = inputSizes[j]
            if terms.count == 1 {
                t.applyTranspose(y, out, columns: k)
            } else {
                if scratch.count < nj * k { scratch = [Double](repeating: 0, count: nj * k) }
                scratch.withUnsafeMutableBufferPointer { sp in
                    guard let s = sp.baseAddress else { return }
                    t.applyTranspose(y, s, columns: k)
                    for col in 0..<k { for i in 0..<nj { out[offset + i + col * n] = s[i + col * nj] } }
                }
            }
            offset += nj
        }
    }

    private func projectMatrixFree(terms: [LinearMap], inverseDiagonal: [Double],
                                   a: UnsafeMutablePointer<Double>, c: UnsafeMutablePointer<Double>, columns k: Int,
                                   work: UnsafeMutablePointer<Double>, guess: UnsafePointer<Double>?,
                                   tolerance: Double, maxIterations: Int) -> Int {
        let m = outputCount, n = inputCount
        var scratch: [Double] = []
        var rhs = [Double](repeating: 0, count: n * k)
        var x = [Double](repeating: 0, count: n * k)
        var r = x, z = x, p = x, q = x
        var iterations = 0
        rhs.withUnsafeMutableBufferPointer { rhsp in
        x.withUnsafeMutableBufferPointer { xp in
        r.withUnsafeMutableBufferPointer { rp in
        z.withUnsafeMutableBufferPointer { zp in
        p.withUnsafeMutableBufferPointer { pp in
        q.withUnsafeMutableBufferPointer { qp in
            guard let rhs = rhsp.baseAddress, let x = xp.baseAddress, let r = rp.baseAddress,
                  let z = zp.baseAddress, let p = pp.baseAddress, let q = qp.baseAddress else { return }
            // rhs = a + Wᵀ(c − b)
            for col in 0..<k { for i in 0..<m { work[i + col * m] = c[i + col * m] - bias[i] } }
            backward(terms, work, rhs, columns: k, scratch: &scratch)
            for i in 0..<(n * k) { rhs[i] += a[i] }
            // A v = v + Wᵀ W v
            func operator_(_ v: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
                forward(terms, v, work, columns: k, scratch: &scratch)
                backward(terms, work, out, columns: k, scratch: &scratch)
                for i in 0..<(n * k) { out[i] += v[i] }
            }
            for i in 0..<(n * k) { x[i] = guess?[i] ?? a[i] }
            operator_(x, q)
            for i in 0..<(n * k) { r[i] = rhs[i] - q[i] }
            var rz = [Double](repeating: 0, count: k)
            var goal = [Double](repeating: 0, count: k)
            for col in 0..<k {
                let o = col * n
                var s = 0.0, b = 0.0
                for i in 0..<n {
                    z[o + i] = inverseDiagonal[i] * r[o + i]
                    p[o + i] = z[o + i]
                    s += r[o + i] * z[o + i]
                    b += rhs[o + i] * rhs[o + i]
                }
                rz[col] = s
                goal[col] = tolerance * tolerance * max(b, 1e-300)
            }
            var frozen = [Bool](repeating: false, count: k)
            while iterations < maxIterations {
                var open = false
                for col in 0..<k where !frozen[col] {
                    let rn = BLAS.dot(n, r + col * n, r + col * n)
                    if rn > goal[col] && rz[col] > 0 { open = true } else { frozen[col] = true }
                }
                if !open { break }
                iterations += 1
                operator_(p, q)
                for col in 0..<k where !frozen[col] {
                    let o = col * n
                    let pq = BLAS.dot(n, p + o, q + o)
                    guard pq > 0 else { frozen[col] = true; continue }
                    let alpha = rz[col] / pq
                    BLAS.axpy(n, alpha, p + o, x + o)
                    BLAS.axpy(n, -alpha, q + o, r + o)
                    var s = 0.0
                    for i in 0..<n {
                        z[o + i] = inverseDiagonal[i] * r[o + i]
                        s += r[o + i] * z[o + i]
                    }
                    let beta = s / rz[col]
                    rz[col] = s
                    for i in 0..<n { p[o + i] = z[o + i] + beta * p[o + i] }
                }
            }
            // x, and z = W x + b exactly on the affine set.
            for i in 0..<(n * k) { a[i] = x[i] }
            forward(terms, x, c, columns: k, scratch: &scratch)
            for col in 0..<k { for i in 0..<m { c[i + col * m] += bias[i] } }
        }}}}}}
        return iterations
    }
}
