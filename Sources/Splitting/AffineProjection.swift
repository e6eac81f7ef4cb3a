import LinearAlgebra
import Network

/// Projection onto the graph {(x, z) : z = W x + b} of an affine node, where x
/// stacks the node's inputs. The factorisation depends only on the weights, so
/// it is made once per network and shared by every solve.
public final class AffineProjection: Sendable {
    public let weight: Matrix          // M × N, the terms side by side
    public let bias: [Double]
    public let inputSizes: [Int]
    /// Woodbury form (factor I + W Wᵀ, M × M) when the layer is wider at the
    /// input than at the output; otherwise I + Wᵀ W (N × N).
    public let woodbury: Bool
    let factor: CholeskyFactor

    public init(_ affine: Affine) throws {
        let m = affine.bias.count
        let sizes = affine.terms.map { $0.weight.cols }
        let n = sizes.reduce(0, +)
        var w = Matrix(rows: m, cols: n)
        var offset = 0
        for t in affine.terms {
            for j in 0..<t.weight.cols {
                for i in 0..<m { w.data[i + (offset + j) * m] = t.weight.data[i + j * m] }
            }
            offset += t.weight.cols
        }
        weight = w
        bias = affine.bias
        inputSizes = sizes
        woodbury = m <= n
        var gram = woodbury ? Matrix(rows: m, cols: m) : Matrix(rows: n, cols: n)
        BLAS.gemm(w, w, into: &gram, transposeA: !woodbury, transposeB: woodbury)
        for i in 0..<gram.rows { gram[i, i] += 1 }
        factor = try CholeskyFactor(gram)
    }

    public var inputCount: Int { weight.cols }
    public var outputCount: Int { weight.rows }

    /// In place: `a` (N × K) becomes x, `c` (M × K) becomes z; `work` holds M × K.
    func project(a: UnsafeMutablePointer<Double>, c: UnsafeMutablePointer<Double>,
                 columns k: Int, work: UnsafeMutablePointer<Double>) {
        let m = outputCount, n = inputCount
        if k == 0 { return }
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
