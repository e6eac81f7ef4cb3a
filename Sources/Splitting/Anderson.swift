import LinearAlgebra

/// Type-II Anderson acceleration of the ADMM fixed-point map (Y, U) ↦ (Y⁺, U⁺),
/// per objective column, with a safeguard: when the fixed-point residual grows,
/// the extrapolation is dropped (the plain ADMM step is taken) and the memory
/// cleared. ADMM's slow linear tail is what makes tight relaxations costly;
/// this shortens it, most of all for warm starts.
struct AndersonAcceleration {
    /// A residual more than this factor above the last one restarts the history:
    /// the extrapolation made things worse (the usual safeguard of type-II Anderson).
    static let restartGrowth = 2.0
    /// Tikhonov regularisation of the residual Gram matrix, relative to its
    /// largest diagonal entry: keeps the small solve well-posed when residuals align.
    static let gramRegularization = 1e-10
    /// Mixing weights whose absolute sum exceeds this are refused (ill-conditioned step).
    static let largestWeightSum = 1e4
    let memory: Int
    let dimension: Int
    let columns: Int
    /// ΔF and ΔG ring buffers: entry (slot, column) at ((slot·columns + column)·dimension).
    var deltaF: [Double]
    var deltaG: [Double]
    var previousF: [Double]
    var previousG: [Double]
    var count: [Int]
    var head = 0
    var lastNorm: [Double]
    var started: [Bool]

    init(memory: Int, dimension: Int, columns: Int) {
        self.memory = memory
        self.dimension = dimension
        self.columns = columns
        deltaF = [Double](repeating: 0, count: memory * dimension * columns)
        deltaG = deltaF
        previousF = [Double](repeating: 0, count: dimension * columns)
        previousG = previousF
        count = [Int](repeating: 0, count: columns)
        lastNorm = [Double](repeating: .infinity, count: columns)
        started = [Bool](repeating: false, count: columns)
    }

    mutating func reset() {
        for c in 0..<columns {
            count[c] = 0
            started[c] = false
            lastNorm[c] = .infinity
        }
    }

    /// `s` is the point the map was applied to, `g` its image (dimension ×
    /// columns, column-major). Writes the next point into `g`.
    mutating func accelerate(s: [Double], g: inout [Double]) {
        let d = dimension
        let slot = head
        let mem = memory, cols = columns
        var f = [Double](repeating: 0, count: d)
        var gram = [Double](repeating: 0, count: mem * mem)
        var rhs = [Double](repeating: 0, count: mem)
        deltaF.withUnsafeMutableBufferPointer { dF in
        deltaG.withUnsafeMutableBufferPointer { dG in
        previousF.withUnsafeMutableBufferPointer { pF in
        previousG.withUnsafeMutableBufferPointer { pG in
        g.withUnsafeMutableBufferPointer { gp in
        s.withUnsafeBufferPointer { sp in
        f.withUnsafeMutableBufferPointer { fp in
            guard let dFb = dF.baseAddress, let dGb = dG.baseAddress, let pFb = pF.baseAddress,
                  let pGb = pG.baseAddress, let gb = gp.baseAddress, let sb = sp.baseAddress,
                  let fb = fp.baseAddress else { return }
            for c in 0..<cols {
                let base = c * d
                var norm = 0.0
                for i in 0..<d {
                    let v = gb[base + i] - sb[base + i]
                    fb[i] = v
                    norm += v * v
                }
                norm = norm.squareRoot()
                if started[c] && norm > Self.restartGrowth * lastNorm[c] {
                    count[c] = 0
                    lastNorm[c] = norm
                    (pFb + base).update(from: fb, count: d)
                    (pGb + base).update(from: gb + base, count: d)
                    continue
                }
                let entry = (slot * cols + c) * d
                if started[c] {
                    for i in 0..<d {
                        dFb[entry + i] = fb[i] - pFb[base + i]
                        dGb[entry + i] = gb[base + i] - pGb[base + i]
                    }
                    count[c] = min(count[c] + 1, mem)
                }
                (pFb + base).update(from: fb, count: d)
                (pGb + base).update(from: gb + base, count: d)
                started[c] = true
                lastNorm[c] = norm
                let m = count[c]
                if m == 0 { continue }
                var offsets = [Int](repeating: 0, count: m)
                for a in 0..<m { offsets[a] = (((slot - a + mem) % mem) * cols + c) * d }
                var scale = 0.0
                for a in 0..<m {
                    for b in a..<m {
                        let v = BLAS.dot(d, dFb + offsets[a], dFb + offsets[b])
                        gram[a + b * m] = v
                        gram[b + a * m] = v
                    }
                    rhs[a] = BLAS.dot(d, dFb + offsets[a], fb)
                    scale = max(scale, gram[a + a * m])
                }
                var g2 = Matrix(rows: m, cols: m, columnMajor: Array(gram[0..<(m * m)]))
                for a in 0..<m { g2[a, a] += Self.gramRegularization * max(scale, 1e-300) }
                guard let factor = try? CholeskyFactor(g2) else { continue }
                let gamma = factor.solve(Array(rhs[0..<m]))
                guard gamma.allSatisfy({ $0.isFinite }), gamma.reduce(0, { $0 + abs($1) }) < Self.largestWeightSum else { continue }
                for a in 0..<m { BLAS.axpy(d, -gamma[a], dGb + offsets[a], gb + base) }
            }
        }}}}}}}
        head = (head + 1) % memory
    }
}
