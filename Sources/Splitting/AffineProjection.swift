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

/// Closed-form projection of a point (p, q) onto a ReLU's relaxed set for
/// pre-activation bounds [l, u]: the triangle (l,0), (0,0), (u,u) for an
/// unstable neuron, the segment y = z or y = 0 for a stable one.
@inlinable
public func reluProjection(_ p: Double, _ q: Double, lower l: Double, upper u: Double) -> (Double, Double) {
    if l >= 0 {
        let t = min(max((p + q) / 2, l), u)
        return (t, t)
    }
    if u <= 0 {
        return (min(max(p, l), u), 0)
    }
    let s = u / (u - l)
    if q >= 0 && q >= p && q <= s * (p - l) { return (p, q) }
    // Nearest point on each of the three edges.
    var best = (0.0, 0.0)
    var bestD = Double.infinity
    // y = 0, z in [l, 0]
    let z1 = min(max(p, l), 0)
    let d1 = (p - z1) * (p - z1) + q * q
    if d1 < bestD { bestD = d1; best = (z1, 0) }
    // y = z, z in [0, u]
    let t2 = min(max((p + q) / 2, 0), u)
    let d2 = (p - t2) * (p - t2) + (q - t2) * (q - t2)
    if d2 < bestD { bestD = d2; best = (t2, t2) }
    // upper edge from (l, 0) to (u, u)
    let dx = u - l, dy = u
    let tt = min(max(((p - l) * dx + q * dy) / (dx * dx + dy * dy), 0), 1)
    let z3 = l + tt * dx, y3 = tt * dy
    let d3 = (p - z3) * (p - z3) + (q - y3) * (q - y3)
    if d3 < bestD { best = (z3, y3) }
    return best
}

/// Projection of (p, q) onto the relaxed set in the metric wz·dz² + wy·dy²,
/// for a node whose two values have different numbers of copies.
public func weightedReLUProjection(_ p: Double, _ q: Double, lower l: Double, upper u: Double,
                                   weightZ wz: Double, weightY wy: Double) -> (Double, Double) {
    let sz = wz.squareRoot(), sy = wy.squareRoot()
    // Scaled coordinates turn the metric Euclidean; the set's vertices scale too.
    var vertices: [(Double, Double)]
    if l >= 0 { vertices = [(l * sz, l * sy), (u * sz, u * sy)] }
    else if u <= 0 { vertices = [(l * sz, 0), (u * sz, 0)] }
    else { vertices = [(l * sz, 0), (0, 0), (u * sz, u * sy)] }
    let (a, b) = projectOntoPolygon(p * sz, q * sy, vertices)
    return (a / sz, b / sy)
}

/// Euclidean projection onto a segment (two vertices) or a triangle (three).
func projectOntoPolygon(_ p: Double, _ q: Double, _ v: [(Double, Double)]) -> (Double, Double) {
    func onSegment(_ a: (Double, Double), _ b: (Double, Double)) -> (Double, Double, Double) {
        let dx = b.0 - a.0, dy = b.1 - a.1
        let len = dx * dx + dy * dy
        let t = len > 0 ? min(max(((p - a.0) * dx + (q - a.1) * dy) / len, 0), 1) : 0
        let x = a.0 + t * dx, y = a.1 + t * dy
        return (x, y, (p - x) * (p - x) + (q - y) * (q - y))
    }
    if v.count == 3 {
        // Inside test by the signs of the three edge cross products.
        func cross(_ a: (Double, Double), _ b: (Double, Double)) -> Double {
            (b.0 - a.0) * (q - a.1) - (b.1 - a.1) * (p - a.0)
        }
        let c1 = cross(v[0], v[1]), c2 = cross(v[1], v[2]), c3 = cross(v[2], v[0])
        if (c1 >= 0 && c2 >= 0 && c3 >= 0) || (c1 <= 0 && c2 <= 0 && c3 <= 0) { return (p, q) }
    }
    var best = onSegment(v[0], v[1])
    if v.count == 3 {
        for (a, b) in [(v[1], v[2]), (v[2], v[0])] {
            let r = onSegment(a, b)
            if r.2 < best.2 { best = r }
        }
    }
    return (best.0, best.1)
}
