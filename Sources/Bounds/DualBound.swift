import LinearAlgebra
import Network

/// How the multiplier of each pre-activation node's affine equality is chosen
/// in the backward pass. Any choice gives a valid bound; good ones give tight bounds.
public enum MultiplierRule: Sendable {
    /// CROWN: each activation replaced by its relaxed set's CROWN line (for
    /// ReLU the adaptive lower slope, the chord above).
    case crown
    /// Given per node: h_w = −λ_w, the coefficient pushed through W_w
    /// (n_w × K), e.g. from the splitting solver's scaled duals. Nodes absent
    /// from the dictionary use the CROWN choice.
    case given([Int: Matrix])
    /// The given h_w read as activation slopes and cleaned per neuron: the
    /// slope α = (h − base)/g_y clipped to the range of the lower chain's edge
    /// slopes where g_y > 0 (for ReLU [0, 1]), of the upper chain's where
    /// g_y < 0 (the chord), exact for stable neurons. This is α-CROWN with α
    /// taken from the solver; it removes the per-neuron loss of multipliers
    /// that are not yet converged.
    case slopesFrom([Int: Matrix])
    /// As `slopesFrom`, but where the solver's primal pre-activation value z
    /// (second table, same units as the bounds) lies clearly inside one edge
    /// of the lower chain (for ReLU: clearly negative or positive), the lower
    /// slope is that edge's: the face holding the primal point, as
    /// complementary slackness asks at the optimum.
    case slopesFromPrimal([Int: Matrix], [Int: Matrix])
}

/// Lower bounds of cᵀ y_target over the convex relaxation, by evaluating the
/// Lagrangian dual function: the affine equalities are dualised, every free
/// node is eliminated exactly, each activation's term is minimised over the
/// vertices of its relaxed set and the input term over the box. Valid for any
/// multipliers, provided `bounds` are sound; a rounding margin is subtracted.
public struct DualBound: Sendable {
    public let graph: Graph
    let absoluteWeights: [[LinearMap]]   // |W| per node and term, for the margins
    let activationOf: [Int: Int]         // pre-activation node -> its activation node

    /// A primal pre-activation value within this fraction of the interval of an
    /// edge's end is "at a vertex", and its edge's slope is not trusted.
    static let vertexMargin = 1e-3

    public init(graph: Graph) {
        self.graph = graph
        absoluteWeights = graph.nodes.map { node in
            if case .affine(let a) = node.operation { return a.terms.map { $0.map.magnitude } }
            return []
        }
        activationOf = graph.activationOf
    }

    public struct Result: Sendable {
        /// Certified lower bound per objective column (margin already subtracted).
        public var lower: [Double]
        /// The rounding margin that was subtracted.
        public var margin: [Double]
        /// The linear coefficients the bound puts on the input (n_in × K):
        /// a coordinate's influence is |coefficient| × its width.
        public var inputCoefficients: Matrix
        /// The coefficient each activation's output carries in the bound (n × K),
        /// kept on request: its sign tells which chain of the set a minimiser uses.
        public var activationCoefficients: [Int: Matrix] = [:]
    }

    /// `objectives` is n_target × K: column k asks for min c_kᵀ y_target.
    /// `relaxations` are the sets for `bounds` when the caller has built them.
    public func evaluate(target: Int, objectives: Matrix, box: Interval, bounds: [Interval],
                         rule: MultiplierRule = .crown, keepActivationCoefficients: Bool = false,
                         relaxations: Relaxations? = nil) -> Result {
        let k = objectives.cols
        // Internal invariants: targets are the output of a normalized graph or a
        // pre-activation node, both affine (the objective's multiplier is −c there).
        precondition(graph.isAffine(target), "the target must be an affine node (use Graph.normalized())")
        precondition(objectives.rows == graph.nodes[target].size, "objective rows must match the target node")
        let live = graph.ancestorMask(of: target)
        let sets = relaxations ?? Relaxations(graph: graph, bounds: bounds, live: live)
        var acc = [Matrix?](repeating: nil, count: graph.nodes.count)
        acc[target] = objectives
        var sums = DualSums(columns: k)
        var inputCoefficients = Matrix(rows: graph.nodes[0].size, cols: k)
        var activationCoefficients: [Int: Matrix] = [:]

        for w in stride(from: target, through: 0, by: -1) where live[w] {
            let node = graph.nodes[w]
            switch node.operation {
            case .elementwise:
                continue   // handled with its pre-activation node
            case .input:
                guard let g = acc[w] else { continue }
                inputCoefficients = g
                sums.addBox(g, box)
            case .affine(let a):
                let n = node.size
                let base = acc[w] ?? Matrix(rows: n, cols: k)
                var h: Matrix
                if let r = activationOf[w], r <= target, live[r], let e = graph.nodes[r].operation.elementwise {
                    // A set the caller did not build is built here: never skipped (that would drop the term).
                    let set = sets[w] ?? Relaxations.sets(e.op, bounds: bounds[w])
                    let gy = acc[r] ?? Matrix(rows: n, cols: k)
                    if keepActivationCoefficients { activationCoefficients[r] = gy }
                    h = pushedCoefficient(w: w, base: base, gy: gy, sets: set, rule: rule)
                    sums.addSetMinimum(base: base, h: h, gy: gy, sets: set)
                } else {
                    if acc[w] == nil { continue }
                    h = base   // free node: eliminated exactly
                }
                let absH = h.magnitude
                sums.addBias(h, absH, a.bias)
                for (j, term) in a.terms.enumerated() {
                    let u = term.input
                    var target = acc[u] ?? Matrix(rows: graph.nodes[u].size, cols: k)
                    term.map.applyTranspose(h, into: &target, beta: acc[u] == nil ? 0 : 1)
                    acc[u] = target
                    sums.addPropagation(absH, absoluteWeights[w][j], bounds[u])
                }
            }
        }
        let (lower, margin) = sums.bound()
        return Result(lower: lower, margin: margin, inputCoefficients: inputCoefficients,
                      activationCoefficients: activationCoefficients)
    }

    /// h for a pre-activation node: the coefficient sent down through W.
    func pushedCoefficient(w: Int, base: Matrix, gy: Matrix, sets: [RelaxedSet], rule: MultiplierRule) -> Matrix {
        if case .given(let table) = rule, let h = table[w] { return h }
        var guide: Matrix? = nil
        var primal: Matrix? = nil
        if case .slopesFrom(let table) = rule { guide = table[w] }
        if case .slopesFromPrimal(let table, let z) = rule {
            guide = table[w]
            primal = z[w]
        }
        var h = base
        sets.withUnsafeBufferPointer { sp in
            for c in 0..<base.cols {
                for i in 0..<base.rows {
                    let y = gy[i, c]
                    guard y != 0 else { continue }
                    h[i, c] += slope(sp[i], y: y, base: base[i, c], guide: guide?[i, c], primal: primal?[i, c]) * y
                }
            }
        }
        return h
    }

    /// The slope the rule picks for one neuron whose output carries coefficient y ≠ 0.
    @inline(__always)
    func slope(_ set: RelaxedSet, y: Double, base: Double, guide: Double?, primal: Double?) -> Double {
        if y < 0 { return guide.map { clamped(($0 - base) / y, set.upperSlopeRange) } ?? set.crownUpperSlope }
        if let p = primal, let edge = set.lowerEdgeSlope(at: p, margin: Self.vertexMargin * (set.upper - set.lower)) {
            return edge
        }
        if let g = guide { return clamped((g - base) / y, set.lowerSlopeRange) }
        return set.crownLowerSlope
    }

    /// s clipped to the range of a chain's edge slopes (a non-finite s: its lower end).
    @inline(__always)
    func clamped(_ s: Double, _ range: (Double, Double)) -> Double {
        s.isFinite ? min(max(s, range.0), range.1) : range.0
    }
}

/// The dual function's value per column, and the magnitudes its rounding
/// margin is computed from.
struct DualSums {
    var value: [Double]
    var absConstant: [Double]
    var propagationMargin: [Double]
    var termCount = 0

    init(columns k: Int) {
        value = [Double](repeating: 0, count: k)
        absConstant = value
        propagationMargin = value
    }

    /// The input term: min over the box of gᵀx.
    mutating func addBox(_ g: Matrix, _ box: Interval) {
        for c in 0..<g.cols {
            for i in 0..<g.rows {
                let gi = g[i, c]
                let t = gi >= 0 ? gi * box.lower[i] : gi * box.upper[i]
                value[c] += t
                absConstant[c] += abs(t)
            }
        }
        termCount += g.rows
    }

    /// Σ_i min over neuron i's relaxed set of g_z·z + g_y·y, with g_z = base − h.
    mutating func addSetMinimum(base: Matrix, h: Matrix, gy: Matrix, sets: [RelaxedSet]) {
        sets.withUnsafeBufferPointer { sp in
            for c in 0..<base.cols {
                var sum = 0.0, mag = 0.0
                for i in 0..<base.rows {
                    let gz = base[i, c] - h[i, c]
                    let y = gy[i, c]
                    let m = sp[i].minimum(gz: gz, gy: y)
                    let (mz, my) = sp[i].magnitudes
                    sum += m
                    mag += abs(gz) * mz + abs(y) * my + abs(m)
                }
                value[c] += sum
                absConstant[c] += mag
            }
        }
        termCount += 3 * base.rows
    }

    /// The constant hᵀb.
    mutating func addBias(_ h: Matrix, _ absH: Matrix, _ bias: [Double]) {
        BLAS.gemv(h, bias, into: &value, transpose: true, beta: 1)
        BLAS.gemv(absH, bias.map { abs($0) }, into: &absConstant, transpose: true, beta: 1)
        termCount += h.rows
    }

    /// Rounding of Wᵀh lands on y_u, bounded by |h|ᵀ(|W| R_u).
    mutating func addPropagation(_ absH: Matrix, _ absW: LinearMap, _ inputBounds: Interval) {
        let n = absH.rows
        var wr = [Double](repeating: 0, count: n)
        absW.apply(inputBounds.magnitudes, into: &wr)
        var m = [Double](repeating: 0, count: absH.cols)
        BLAS.gemv(absH, wr, into: &m, transpose: true)
        let g = Rounding.gamma(n + 2)
        for c in 0..<absH.cols { propagationMargin[c] += g * m[c] }
    }

    func bound() -> (lower: [Double], margin: [Double]) {
        let g = Rounding.gamma(termCount + 2)
        var lower = value
        var margin = value
        for c in 0..<value.count {
            margin[c] = propagationMargin[c] + g * absConstant[c] + Double.leastNonzeroMagnitude
            lower[c] = value[c] - margin[c]
            if !lower[c].isFinite { lower[c] = -.infinity }
        }
        return (lower, margin)
    }
}
