import LinearAlgebra
import Network

/// How the multiplier of each pre-activation node's affine equality is chosen
/// in the backward pass. Any choice gives a valid bound; good ones give tight bounds.
public enum MultiplierRule: Sendable {
    /// CROWN: each ReLU replaced by its linear relaxation (adaptive lower slope).
    case crown
    /// Given per node: h_w = −λ_w, the coefficient pushed through W_w
    /// (n_w × K), e.g. from the splitting solver's scaled duals. Nodes absent
    /// from the dictionary use the CROWN choice.
    case given([Int: Matrix])
    /// The given h_w read as ReLU slopes and cleaned per neuron: the lower
    /// slope α = (h − base)/g_y clipped to [0, 1] where g_y ≥ 0, the upper
    /// slope u/(u − l) where g_y < 0, the exact slope for stable neurons. This
    /// is α-CROWN with α taken from the solver; it removes the per-neuron loss
    /// of multipliers that are not yet converged.
    case slopesFrom([Int: Matrix])
    /// As `slopesFrom`, but where the solver's primal pre-activation value z
    /// (second table, same units as the bounds) is clearly negative or
    /// positive, the lower slope is 0 or 1: the slope whose edge holds the
    /// primal point, as complementary slackness asks at the optimum.
    case slopesFromPrimal([Int: Matrix], [Int: Matrix])
}

/// Lower bounds of cᵀ y_target over the triangle relaxation, by evaluating the
/// Lagrangian dual function: the affine equalities are dualised, every free
/// node is eliminated exactly, each ReLU's term is minimised over the vertices
/// of its relaxed set and the input term over the box. Valid for any
/// multipliers, provided `bounds` are sound; a rounding margin is subtracted.
public struct DualBound: Sendable {
    public let graph: Graph
    let absoluteWeights: [[LinearMap]]   // |W| per node and term, for the margins
    let reluOf: [Int: Int]            // pre-activation node -> its ReLU

    public init(graph: Graph) {
        self.graph = graph
        absoluteWeights = graph.nodes.map { node in
            if case .affine(let a) = node.operation { return a.terms.map { $0.map.magnitude } }
            return []
        }
        var r: [Int: Int] = [:]
        for (v, node) in graph.nodes.enumerated() { if case .relu(let u) = node.operation { r[u] = v } }
        reluOf = r
    }

    public struct Result: Sendable {
        /// Certified lower bound per objective column (margin already subtracted).
        public var lower: [Double]
        /// The rounding margin that was subtracted.
        public var margin: [Double]
        /// The linear coefficients the bound puts on the input (n_in × K):
        /// a coordinate's influence is |coefficient| × its width.
        public var inputCoefficients: Matrix
        /// The coefficient each ReLU's output carries in the bound (n × K), kept
        /// on request: its sign tells which face of the relaxation a minimiser uses.
        public var reluCoefficients: [Int: Matrix] = [:]
    }

    /// `objectives` is n_target × K: column k asks for min c_kᵀ y_target.
    public func evaluate(target: Int, objectives: Matrix, box: Interval, bounds: [Interval],
                         rule: MultiplierRule = .crown, keepReluCoefficients: Bool = false) -> Result {
        let k = objectives.cols
        // Internal invariants: targets are the output of a normalized graph or a
        // pre-activation node, both affine (the objective's multiplier is −c there).
        precondition(graph.isAffine(target), "the target must be an affine node (use Graph.normalized())")
        precondition(objectives.rows == graph.nodes[target].size, "objective rows must match the target node")
        let live = graph.ancestorMask(of: target)
        var acc = [Matrix?](repeating: nil, count: graph.nodes.count)
        acc[target] = objectives
        var value = [Double](repeating: 0, count: k)
        var absConstant = [Double](repeating: 0, count: k)
        var propagationMargin = [Double](repeating: 0, count: k)
        var termCount = 0
        var inputCoefficients = Matrix(rows: graph.nodes[0].size, cols: k)
        var reluCoefficients: [Int: Matrix] = [:]

        for w in stride(from: target, through: 0, by: -1) where live[w] {
            let node = graph.nodes[w]
            switch node.operation {
            case .relu:
                continue   // handled with its pre-activation node
            case .input:
                guard let g = acc[w] else { continue }
                inputCoefficients = g
                for c in 0..<k {
                    for i in 0..<node.size {
                        let gi = g[i, c]
                        let t = gi >= 0 ? gi * box.lower[i] : gi * box.upper[i]
                        value[c] += t
                        absConstant[c] += abs(t)
                    }
                }
                termCount += node.size
            case .affine(let a):
                let n = node.size
                let base = acc[w] ?? Matrix(rows: n, cols: k)
                var h: Matrix
                if let r = reluOf[w], r <= target, live[r] {
                    let gy = acc[r] ?? Matrix(rows: n, cols: k)
                    if keepReluCoefficients { reluCoefficients[r] = gy }
                    h = pushedCoefficient(w: w, base: base, gy: gy, bounds: bounds[w], rule: rule)
                    pairMinimum(base: base, h: h, gy: gy, bounds: bounds[w],
                                value: &value, absConstant: &absConstant)
                    termCount += 3 * n
                } else {
                    if acc[w] == nil { continue }
                    h = base   // free node: eliminated exactly
                }
                // constant hᵀ b
                let absH = h.magnitude
                BLAS.gemv(h, a.bias, into: &value, transpose: true, beta: 1)
                BLAS.gemv(absH, a.bias.map { abs($0) }, into: &absConstant, transpose: true, beta: 1)
                termCount += n
                for (j, term) in a.terms.enumerated() {
                    let u = term.input
                    var target = acc[u] ?? Matrix(rows: graph.nodes[u].size, cols: k)
                    term.map.applyTranspose(h, into: &target, beta: acc[u] == nil ? 0 : 1)
                    acc[u] = target
                    // rounding of Wᵀh lands on y_u, bounded by |h|ᵀ(|W| R_u)
                    var wr = [Double](repeating: 0, count: n)
                    absoluteWeights[w][j].apply(bounds[u].magnitudes, into: &wr)
                    var m = [Double](repeating: 0, count: k)
                    BLAS.gemv(absH, wr, into: &m, transpose: true)
                    let g = Rounding.gamma(n + 2)
                    for c in 0..<k { propagationMargin[c] += g * m[c] }
                }
            }
        }
        let g = Rounding.gamma(termCount + 2)
        var lower = value
        var margin = value
        for c in 0..<k {
            margin[c] = propagationMargin[c] + g * absConstant[c] + Double.leastNonzeroMagnitude
            lower[c] = value[c] - margin[c]
            if !lower[c].isFinite { lower[c] = -.infinity }
        }
        return Result(lower: lower, margin: margin, inputCoefficients: inputCoefficients,
                      reluCoefficients: reluCoefficients)
    }

    /// h for a pre-activation node: the coefficient sent down through W.
    func pushedCoefficient(w: Int, base: Matrix, gy: Matrix, bounds: Interval, rule: MultiplierRule) -> Matrix {
        if case .given(let table) = rule, let h = table[w] { return h }
        var guide: Matrix? = nil
        var primal: Matrix? = nil
        if case .slopesFrom(let table) = rule { guide = table[w] }
        if case .slopesFromPrimal(let table, let z) = rule {
            guide = table[w]
            primal = z[w]
        }
        var h = base
        let n = base.rows
        for c in 0..<base.cols {
            for i in 0..<n {
                let l = bounds.lower[i], u = bounds.upper[i]
                let y = gy[i, c]
                let slope: Double
                if l >= 0 { slope = 1 }
                else if u <= 0 { slope = 0 }
                else if y < 0 { slope = u / (u - l) }
                else if let p = primal, p[i, c] < -1e-3 * (u - l) { slope = 0 }
                else if let p = primal, p[i, c] > 1e-3 * (u - l) { slope = 1 }
                else if let g = guide {
                    slope = y > 0 ? min(max((g[i, c] - base[i, c]) / y, 0), 1) : 0
                } else { slope = u >= -l ? 1 : 0 }
                h[i, c] += slope * y
            }
        }
        return h
    }

    /// Adds Σ_i min over the relaxed set's vertices of g_z·z + g_y·y, with g_z = base − h.
    func pairMinimum(base: Matrix, h: Matrix, gy: Matrix, bounds: Interval,
                     value: inout [Double], absConstant: inout [Double]) {
        let n = base.rows
        for c in 0..<base.cols {
            var sum = 0.0, mag = 0.0
            for i in 0..<n {
                let gz = base[i, c] - h[i, c]
                let y = gy[i, c]
                let l = bounds.lower[i], u = bounds.upper[i]
                let m: Double
                if l >= 0 {
                    m = min((gz + y) * l, (gz + y) * u)
                } else if u <= 0 {
                    m = min(gz * l, gz * u)
                } else {
                    m = min(gz * l, 0, gz * u + y * u)
                }
                sum += m
                mag += abs(gz) * max(abs(l), abs(u)) + abs(y) * max(0, u, -l) + abs(m)
            }
            value[c] += sum
            absConstant[c] += mag
        }
    }
}
