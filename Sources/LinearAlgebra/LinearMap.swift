/// The weight of an affine term: a linear map y = M x in one of the forms a
/// network layer takes. Dense and diagonal maps are stored as such; a
/// convolution keeps only its kernel; `scaled` is diag(left)·M·diag(right),
/// which the solver's change of variables and per-pixel normalisations need
/// without materialising M.
public indirect enum LinearMap: Sendable, Equatable {
    case dense(Matrix)
    case diagonal([Double])
    case convolution(Convolution2D)
    case scaled(left: [Double]?, LinearMap, right: [Double]?)

    public static func identity(_ n: Int) -> LinearMap { .diagonal([Double](repeating: 1, count: n)) }

    /// (rows, cols): outputs and inputs of the map.
    public var shape: (rows: Int, cols: Int) {
        switch self {
        case .dense(let m): return (m.rows, m.cols)
        case .diagonal(let d): return (d.count, d.count)
        case .convolution(let c): return (c.rows, c.cols)
        case .scaled(_, let m, _): return m.shape
        }
    }

    public var rows: Int { shape.rows }
    public var cols: Int { shape.cols }

    /// Stored numbers (for parameter counts and memory estimates).
    public var storedCount: Int {
        switch self {
        case .dense(let m): return m.rows * m.cols
        case .diagonal(let d): return d.count
        case .convolution(let c): return c.kernel.count
        case .scaled(let l, let m, let r): return (l?.count ?? 0) + m.storedCount + (r?.count ?? 0)
        }
    }

    /// A short description for listings: "dense 64x2048", "conv 3x3 stride 2, 3->16 channels".
    public var summary: String {
        switch self {
        case .dense(let m): return "dense \(m.rows)x\(m.cols)"
        case .diagonal(let d): return "diagonal \(d.count)"
        case .convolution(let c):
            var text = "conv \(c.kernelHeight)x\(c.kernelWidth)"
            if c.strideY != 1 || c.strideX != 1 { text += " stride \(c.strideY == c.strideX ? "\(c.strideY)" : "\(c.strideY)x\(c.strideX)")" }
            if c.dilationY != 1 || c.dilationX != 1 { text += " dilation \(c.dilationY)x\(c.dilationX)" }
            if c.groups != 1 { text += " groups \(c.groups)" }
            return text + ", \(c.inChannels)->\(c.outChannels) channels, \(c.inHeight)x\(c.inWidth)->\(c.outHeight)x\(c.outWidth)"
        case .scaled(_, let m, _): return "scaled " + m.summary
        }
    }

    /// Multiply-adds of one application to one column.
    public var applyCost: Int {
        switch self {
        case .dense(let m): return m.rows * m.cols
        case .diagonal(let d): return d.count
        case .convolution(let c): return c.rows * c.kernel.count / max(1, c.outChannels)
        case .scaled(_, let m, _): return m.applyCost + m.rows + m.cols
        }
    }

    /// Whether the map is a dense matrix, or cheap to make one (for factorisations).
    public var isDense: Bool { if case .dense = self { return true } else { return false } }

    public var isFinite: Bool {
        switch self {
        case .dense(let m): return m.isFinite
        case .diagonal(let d): return d.allSatisfy(\.isFinite)
        case .convolution(let c): return c.kernel.allSatisfy(\.isFinite)
        case .scaled(let l, let m, let r):
            return (l ?? []).allSatisfy(\.isFinite) && m.isFinite && (r ?? []).allSatisfy(\.isFinite)
        }
    }

    /// The entry-wise map |M| (a convolution tap never meets another on the
    /// same input–output pair, so |K| is the convolution with |kernel|).
    public var magnitude: LinearMap { entrywise { abs($0) } }

    /// The entry-wise square M∘M: its transpose applied to ones is diag(MᵀM).
    public var squared: LinearMap { entrywise { $0 * $0 } }

    /// f applied to every entry, for f with f(0) = 0 and f(ab) = f(a)f(b).
    func entrywise(_ f: (Double) -> Double) -> LinearMap {
        switch self {
        case .dense(let m): return .dense(Matrix(rows: m.rows, cols: m.cols, columnMajor: m.data.map(f)))
        case .diagonal(let d): return .diagonal(d.map(f))
        case .convolution(let c): return .convolution(c.with(kernel: c.kernel.map(f)))
        case .scaled(let l, let m, let r): return .scaled(left: l?.map(f), m.entrywise(f), right: r?.map(f))
        }
    }

    /// The map as a dense matrix. Only for maps known to be small.
    public var denseMatrix: Matrix {
        switch self {
        case .dense(let m): return m
        case .diagonal(let d):
            var m = Matrix(rows: d.count, cols: d.count)
            for i in d.indices { m[i, i] = d[i] }
            return m
        case .convolution(let c): return c.dense
        case .scaled(let l, let inner, let r):
            var m = inner.denseMatrix
            for j in 0..<m.cols {
                for i in 0..<m.rows { m[i, j] *= (l?[i] ?? 1) * (r?[j] ?? 1) }
            }
            return m
        }
    }

    /// diag(left)·M·diag(right), folded into the map where its form allows.
    public func scaled(left: [Double]?, right: [Double]?) -> LinearMap {
        if left == nil && right == nil { return self }
        switch self {
        case .dense(var m):
            for j in 0..<m.cols { for i in 0..<m.rows { m[i, j] *= (left?[i] ?? 1) * (right?[j] ?? 1) } }
            return .dense(m)
        case .diagonal(let d):
            return .diagonal(d.indices.map { d[$0] * (left?[$0] ?? 1) * (right?[$0] ?? 1) })
        case .convolution(let c):
            // Constant per channel: fold into the kernel (padding stays zero either way).
            let outFactor = left.flatMap { Self.perChannel($0, channels: c.outChannels) }
            let inFactor = right.flatMap { Self.perChannel($0, channels: c.inChannels) }
            if (left == nil || outFactor != nil) && (right == nil || inFactor != nil) {
                var k = c.kernel
                let cg = c.inChannels / c.groups, og = c.outChannels / c.groups
                let kk = c.kernelHeight * c.kernelWidth
                for oc in 0..<c.outChannels {
                    let g = oc / og
                    for icg in 0..<cg {
                        let f = (outFactor?[oc] ?? 1) * (inFactor?[g * cg + icg] ?? 1)
                        for t in 0..<kk { k[(oc * cg + icg) * kk + t] *= f }
                    }
                }
                return .convolution(c.with(kernel: k))
            }
            return .scaled(left: left, self, right: right)
        case .scaled(let l, let inner, let r):
            func times(_ a: [Double]?, _ b: [Double]?) -> [Double]? {
                guard let a else { return b }
                guard let b else { return a }
                return zip(a, b).map { $0 * $1 }
            }
            return .scaled(left: times(l, left), inner, right: times(r, right))
        }
    }

    /// Per-channel values of a vector that is constant over each channel's block, else nil.
    static func perChannel(_ v: [Double], channels: Int) -> [Double]? {
        guard channels > 0, v.count % channels == 0 else { return nil }
        let block = v.count / channels
        var out = [Double](repeating: 0, count: channels)
        for ch in 0..<channels {
            let first = v[ch * block]
            for i in 0..<block where v[ch * block + i] != first { return nil }
            out[ch] = first
        }
        return out
    }

    /// Y = alpha·M X + beta·Y for k columns (X: cols × k, Y: rows × k, contiguous).
    public func apply(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, columns k: Int,
                      alpha: Double = 1, beta: Double = 0) {
        run(x, y, columns: k, alpha: alpha, beta: beta, transposed: false)
    }

    /// X = alpha·Mᵀ Y + beta·X for k columns (Y: rows × k, X: cols × k).
    public func applyTranspose(_ y: UnsafePointer<Double>, _ x: UnsafeMutablePointer<Double>, columns k: Int,
                               alpha: Double = 1, beta: Double = 0) {
        run(y, x, columns: k, alpha: alpha, beta: beta, transposed: true)
    }

    /// out = alpha·op(M) v + beta·out, op(M) = M or Mᵀ.
    func run(_ v: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, columns k: Int,
             alpha: Double, beta: Double, transposed: Bool) {
        let (m, n) = transposed ? (cols, rows) : (rows, cols)   // out has m rows, v has n
        switch self {
        case .dense(let w):
            w.data.withUnsafeBufferPointer { wp in
                BLAS.gemm(m: m, n: k, k: n, alpha: alpha, a: wp.baseAddress, lda: max(1, w.rows), transposeA: transposed,
                          b: v, ldb: max(1, n), transposeB: false, beta: beta, c: out, ldc: max(1, m))
            }
        case .diagonal(let d):
            for c in 0..<k {
                let o = c * m
                for i in 0..<m { out[o + i] = alpha * d[i] * v[o + i] + (beta == 0 ? 0 : beta * out[o + i]) }
            }
        case .convolution(let conv):
            if transposed { conv.applyTranspose(v, out, columns: k, alpha: alpha, beta: beta) }
            else { conv.apply(v, out, columns: k, alpha: alpha, beta: beta) }
        case .scaled(let l, let inner, let r):
            // diag(first) on the way in, the inner map, diag(last) on the way out.
            let (first, last) = transposed ? (l, r) : (r, l)
            var t = [Double](repeating: 0, count: n * k)
            for c in 0..<k { for j in 0..<n { t[j + c * n] = v[j + c * n] * (first?[j] ?? 1) } }
            var z = [Double](repeating: 0, count: m * k)
            t.withUnsafeBufferPointer { tp in
                z.withUnsafeMutableBufferPointer { zp in
                    if let a = tp.baseAddress, let b = zp.baseAddress {
                        inner.run(a, b, columns: k, alpha: 1, beta: 0, transposed: transposed)
                    }
                }
            }
            for c in 0..<k {
                for i in 0..<m {
                    let value = alpha * z[i + c * m] * (last?[i] ?? 1)
                    out[i + c * m] = beta == 0 ? value : value + beta * out[i + c * m]
                }
            }
        }
    }

    /// Array forms over contiguous column-major storage (a Matrix's data or a vector).
    func run(_ v: [Double], _ out: inout [Double], columns k: Int, alpha: Double, beta: Double, transposed: Bool) {
        if out.isEmpty { return }
        v.withUnsafeBufferPointer { vp in
            out.withUnsafeMutableBufferPointer { op in
                guard let ob = op.baseAddress else { return }
                if let vb = vp.baseAddress { run(vb, ob, columns: k, alpha: alpha, beta: beta, transposed: transposed) }
                else { for i in 0..<op.count { ob[i] *= beta } }
            }
        }
    }

    /// Matrix forms: Y = alpha·M X + beta·Y.
    // The shape checks below are internal invariants: every map sits in a graph whose
    // shapes Graph.addAffine checked when it was built from a file.
    public func apply(_ x: Matrix, into y: inout Matrix, alpha: Double = 1, beta: Double = 0) {
        precondition(x.rows == cols && y.rows == rows && x.cols == y.cols, "LinearMap.apply: shape mismatch")
        run(x.data, &y.data, columns: x.cols, alpha: alpha, beta: beta, transposed: false)
    }

    /// X = alpha·Mᵀ Y + beta·X.
    public func applyTranspose(_ y: Matrix, into x: inout Matrix, alpha: Double = 1, beta: Double = 0) {
        precondition(y.rows == rows && x.rows == cols && x.cols == y.cols, "LinearMap.applyTranspose: shape mismatch")
        run(y.data, &x.data, columns: y.cols, alpha: alpha, beta: beta, transposed: true)
    }

    /// Vector forms.
    public func apply(_ x: [Double], into y: inout [Double], alpha: Double = 1, beta: Double = 0) {
        precondition(x.count == cols && y.count == rows, "LinearMap.apply: shape mismatch")
        run(x, &y, columns: 1, alpha: alpha, beta: beta, transposed: false)
    }

    public func applyTranspose(_ y: [Double], into x: inout [Double], alpha: Double = 1, beta: Double = 0) {
        precondition(y.count == rows && x.count == cols, "LinearMap.applyTranspose: shape mismatch")
        run(y, &x, columns: 1, alpha: alpha, beta: beta, transposed: true)
    }

    /// outer ∘ inner (x ↦ outer(inner(x))) in a stored form, or nil when the
    /// product would be neither small nor structured (the caller keeps both).
    public static func compose(_ outer: LinearMap, _ inner: LinearMap, maximumDenseEntries: Int) -> LinearMap? {
        precondition(outer.cols == inner.rows, "LinearMap.compose: shape mismatch")
        switch (outer, inner) {
        case (.diagonal(let d), _):
            return inner.scaled(left: d, right: nil)
        case (_, .diagonal(let d)):
            return outer.scaled(left: nil, right: d)
        case (.dense(let a), .dense(let b)):
            guard a.rows * b.cols <= maximumDenseEntries else { return nil }
            var p = Matrix(rows: a.rows, cols: b.cols)
            BLAS.gemm(a, b, into: &p)
            return .dense(p)
        case (.dense(let a), _):
            // A·C = (Cᵀ Aᵀ)ᵀ: small when A has few rows (a classifier head after pooling).
            guard a.rows * inner.cols <= maximumDenseEntries else { return nil }
            var t = Matrix(rows: inner.cols, cols: a.rows)
            inner.applyTranspose(a.transposed, into: &t)
            return .dense(t.transposed)
        default:
            return nil
        }
    }

    /// a + b for maps of one shape, in a stored form, or nil.
    public static func sum(_ a: LinearMap, _ b: LinearMap, maximumDenseEntries: Int) -> LinearMap? {
        precondition(a.rows == b.rows && a.cols == b.cols, "LinearMap.sum: shape mismatch")
        switch (a, b) {
        case (.diagonal(let x), .diagonal(let y)):
            return .diagonal(zip(x, y).map { $0 + $1 })
        case (.convolution(let x), .convolution(let y)) where x.sameGeometry(as: y):
            return .convolution(x.with(kernel: zip(x.kernel, y.kernel).map { $0 + $1 }))
        default:
            guard a.rows * a.cols <= maximumDenseEntries,
                  a.isDense || b.isDense || (a.rows <= 64 && a.cols <= 64) else { return nil }
            return .dense(a.denseMatrix + b.denseMatrix)
        }
    }
}
