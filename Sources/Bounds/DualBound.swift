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
    /// CROWN with the lower slope of each neuron and column given (n_w × K per pre-activation node w,
    /// clipped to the lower chain's edge slopes: for ReLU [0, 1]), the chord above; α-CROWN's iterate.
    /// Nodes absent from the dictionary use CROWN's slopes.
    case lowerSlopes([Int: Matrix])
}

/// Lower bounds of cᵀ y_target over the convex relaxation, by evaluating the
/// Lagrangian dual function: the affine equalities are dualised, every free
/// node is eliminated exactly, each activation's term is minimised over the
/// vertices of its relaxed set and the input term over the box. Valid for any
/// multipliers, provided `bounds` are sound; a rounding margin is subtracted.
public struct DualBound: Sendable {
    public let graph: Graph
    let absoluteWeights: [[LinearMap]]   // |W| per node and term, for the margins
    let absoluteBias: [[Double]]         // |b| per node, for the margins
    let activationOf: [Int?]             // pre-activation node -> its activation node (an array: read per node)
    /// What the backward pass does at each node, and each pre-activation node's activation, read without
    /// copying the node: its payload holds arrays, and copying it per node and pass made reference
    /// counting a third of a monitor's time (perf, double integrator).
    let kinds: [NodeKind]
    let activationKinds: [ActivationKind]

    enum NodeKind: Sendable { case input, affine, nonlinear }
    enum ActivationKind: Sendable { case none, product(Int), elementwise(Int) }

    /// A primal pre-activation value within this fraction of the interval of an
    /// edge's end is "at a vertex", and its edge's slope is not trusted.
    static let vertexMargin = 1e-3

    public init(graph: Graph) {
        self.graph = graph
        absoluteWeights = graph.nodes.map { node in
            if case .affine(let a) = node.operation { return a.terms.map { $0.map.magnitude } }
            return []
        }
        absoluteBias = graph.nodes.map { node in
            if case .affine(let a) = node.operation { return a.bias.map { abs($0) } }
            return []
        }
        var activation = [Int?](repeating: nil, count: graph.nodes.count)
        for (w, r) in graph.activationOf { activation[w] = r }
        activationOf = activation
        kinds = graph.nodes.map { node in
            switch node.operation {
            case .input: return .input
            case .affine: return .affine
            case .elementwise, .product: return .nonlinear
            }
        }
        activationKinds = activation.map { r in
            guard let r else { return .none }
            switch graph.nodes[r].operation {
            case .product: return .product(r)
            case .elementwise: return .elementwise(r)
            case .input, .affine: return .none
            }
        }
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
    /// `stops`: nodes whose bounds stand in for everything below them (a truncated back-substitution:
    /// a coefficient reaching one is bounded over that node's box, as the input's is over the box).
    public func evaluate(target: Int, objectives: Matrix, box: Interval, bounds: [Interval],
                         rule: MultiplierRule = .crown, keepActivationCoefficients: Bool = false,
                         relaxations: Relaxations? = nil, stops: Set<Int> = []) -> Result {
        var scratch = DualScratch()
        return evaluate(target: target, objectives: objectives, box: box, bounds: bounds, rule: rule,
                        keepActivationCoefficients: keepActivationCoefficients, relaxations: relaxations,
                        stops: stops, scratch: &scratch)
    }

    /// The same, with the coefficient matrices' storage taken from and left in `scratch` (a pass of many
    /// CROWN bounds over one graph reuses it instead of allocating a matrix per node and call).
    public func evaluate(target: Int, objectives: Matrix, box: Interval, bounds: [Interval], rule: MultiplierRule,
                  keepActivationCoefficients: Bool, relaxations: Relaxations?, stops: Set<Int>,
                  scratch: inout DualScratch) -> Result {
        let k = objectives.cols
        // Internal invariants: targets are the output of a normalized graph or a
        // pre-activation node, both affine (the objective's multiplier is −c there).
        precondition(graph.isAffine(target), "the target must be an affine node (use Graph.normalized())")
        precondition(objectives.rows == graph.nodes[target].size, "objective rows must match the target node")
        // The ancestors, to build only their sets. Given the sets, they are not needed: a node
        // gets a coefficient only from a node above it that had one, so the others are skipped.
        let live = relaxations == nil ? graph.ancestorMask(of: target) : nil
        let sets = relaxations ?? Relaxations(graph: graph, bounds: bounds, live: live)
        scratch.begin(nodes: graph.nodes.count)
        scratch.storeObjectives(target, objectives)
        var sums = scratch.takeSums(columns: k)
        var inputCoefficients: Matrix? = nil   // made only if no coefficient reaches the input
        var activationCoefficients: [Int: Matrix] = [:]

        for w in stride(from: target, through: 0, by: -1) where live?[w] ?? true {
            switch kinds[w] {
            case .nonlinear:
                continue   // handled with its pre-activation node
            case .input:
                guard let g = scratch.coefficient(w) else { continue }
                inputCoefficients = g
                sums.addBox(g, box)
            case .affine:
                guard case .affine(let a) = graph.nodes[w].operation else { continue }
                let n = graph.nodes[w].size
                // No coefficient here nor on its activation: nothing to send down (the terms would be 0).
                if !scratch.written(w) && (activationOf[w].map { !scratch.written($0) } ?? true) { continue }
                if w != target, let g = scratch.coefficient(w), activationOf[w] == nil, stops.contains(w) {
                    sums.addBox(g, bounds[w])
                    continue
                }
                let base = scratch.coefficient(w) ?? scratch.zero(rows: n, cols: k)
                var h: Matrix
                var ownsPushed = false   // h is the scratch's storage, to be handed back
                if case .product(let r) = activationKinds[w], r <= target, live?[r] ?? scratch.written(r) {
                    let set = sets.products[w] ?? Relaxations.productSets(bounds: bounds[w])
                    let gp = scratch.coefficient(r) ?? Matrix(rows: graph.nodes[r].size, cols: k)
                    if keepActivationCoefficients { activationCoefficients[r] = gp }
                    h = productCoefficient(w: w, base: base, gp: gp, sets: set, rule: rule)
                    sums.addProductMinimum(base: base, h: h, gp: gp, sets: set)
                } else if case .elementwise(let r) = activationKinds[w], r <= target,
                          live?[r] ?? scratch.written(r), let set = sets[w] ?? builtSets(w, r, bounds) {
                    // A set the caller did not build is built here: never skipped (that would drop the term).
                    let gy = scratch.coefficient(r) ?? scratch.zero(rows: n, cols: k)
                    if keepActivationCoefficients { activationCoefficients[r] = gy }
                    let view = sets.columns[w] ?? SetColumns(set)
                    if case .crown = rule {
                        h = scratch.spare(rows: n, cols: k)
                        crownPushed(base: base, gy: gy, view: view, into: &h)
                        ownsPushed = true
                    } else {
                        h = pushedCoefficient(w: w, base: base, gy: gy, sets: set, view: view, rule: rule)
                    }
                    sums.addSetMinimum(base: base, h: h, gy: gy, sets: set, view: view)
                } else {
                    guard let g = scratch.coefficient(w) else { continue }
                    h = g   // free node: eliminated exactly
                }
                for term in a.terms {
                    let u = term.input
                    let fresh = !scratch.written(u)
                    var into = scratch.take(u, rows: graph.nodes[u].size, cols: k)
                    term.map.applyTranspose(h, into: &into, beta: fresh ? 0 : 1)
                    scratch.store(u, into)
                }
                let weights = sets.propagation[w] ?? propagationWeights(of: w, bounds: bounds)
                sums.addAffine(h, bias: a.bias, absoluteBias: absoluteBias[w], propagation: weights)
                if ownsPushed { scratch.recycle(h) }
            }
        }
        sums.bound()
        let result = Result(lower: sums.lower, margin: sums.margin,
                            inputCoefficients: inputCoefficients ?? Matrix(rows: graph.nodes[0].size, cols: k),
                            activationCoefficients: activationCoefficients)
        scratch.finish(sums)
        return result
    }

    /// The relaxed sets of activation r over its input w's bounds, when the caller has not built them.
    func builtSets(_ w: Int, _ r: Int, _ bounds: [Interval]) -> [RelaxedSet]? {
        graph.nodes[r].operation.elementwise.map { Relaxations.sets($0.op, bounds: bounds[w]) }
    }

    /// Node w's margin weights Σ_j |W_j|·max|bounds of input j|, over bounds final for its inputs: the
    /// rounding of each Wⱼᵀh lands on its input, and every term's margin is |h|ᵀ times its weights.
    public func propagationWeights(of w: Int, bounds: [Interval]) -> [Double] {
        var wr: [Double] = []
        var magnitudes: [Double] = []
        propagationWeights(of: w, bounds: bounds, into: &wr, magnitudes: &magnitudes)
        return wr
    }

    /// The same into `wr`, each input's magnitudes formed in `magnitudes` (both kept by a caller that
    /// makes a pass per message; the same products and sums).
    public func propagationWeights(of w: Int, bounds: [Interval], into wr: inout [Double],
                                   magnitudes: inout [Double]) {
        wr.removeAll(keepingCapacity: true)
        guard case .affine(let a) = graph.nodes[w].operation else { return }
        wr.append(contentsOf: repeatElement(0, count: a.bias.count))
        for (j, t) in a.terms.enumerated() {
            bounds[t.input].magnitudes(into: &magnitudes)
            absoluteWeights[w][j].apply(magnitudes, into: &wr, beta: 1)
        }
    }

    /// h for a pre-activation node: the coefficient sent down through W.
    func pushedCoefficient(w: Int, base: Matrix, gy: Matrix, sets: [RelaxedSet], view: SetColumns,
                           rule: MultiplierRule) -> Matrix {
        if case .given(let table) = rule, let h = table[w] { return h }
        var guide: Matrix? = nil
        var primal: Matrix? = nil
        var alpha: Matrix? = nil
        switch rule {
        case .slopesFrom(let table): guide = table[w]
        case .slopesFromPrimal(let table, let z): (guide, primal) = (table[w], z[w])
        case .lowerSlopes(let table):
            // A table of another shape is not this pass's: CROWN's slopes instead.
            alpha = table[w].flatMap { $0.rows == base.rows && $0.cols == base.cols ? $0 : nil }
        case .crown, .given: break
        }
        var h = base
        let n = base.rows
        if guide == nil && primal == nil && alpha == nil { return crownPushed(base: base, gy: gy, view: view) }
        for c in 0..<base.cols {
            for i in 0..<n {
                let y = gy.data[i + c * n]
                guard y != 0 else { continue }
                let s = if let alpha, y > 0 { clamped(alpha.data[i + c * n], sets[i].lowerSlopeRange) }
                    else { slope(sets, i, y: y, base: base.data[i + c * n], guide: guide?.data[i + c * n],
                                 primal: primal?.data[i + c * n], view: view) }
                h.data[i + c * n] += y * s
            }
        }
        return h
    }

    /// h with CROWN's slopes: the hot loop of every intermediate bound, over contiguous arrays.
    func crownPushed(base: Matrix, gy: Matrix, view: SetColumns) -> Matrix {
        var h = Matrix(rows: base.rows, cols: base.cols)
        crownPushed(base: base, gy: gy, view: view, into: &h)
        return h
    }

    /// The same into `h` (base's shape; every entry is overwritten).
    func crownPushed(base: Matrix, gy: Matrix, view: SetColumns, into h: inout Matrix) {
        // Internal: h comes from the scratch with base's shape.
        precondition(h.rows == base.rows && h.cols == base.cols && gy.data.count == base.data.count)
        let n = base.rows
        h.data.withUnsafeMutableBufferPointer { hp in
            base.data.withUnsafeBufferPointer { bp in
                gy.data.withUnsafeBufferPointer { yp in
                    view.crownLower.withUnsafeBufferPointer { lo in
                        view.crownUpper.withUnsafeBufferPointer { up in
                            for c in 0..<base.cols {
                                let o = c * n
                                for i in 0..<n {
                                    let y = yp[o + i]
                                    hp[o + i] = y != 0 ? bp[o + i] + y * (y < 0 ? up[i] : lo[i]) : bp[o + i]
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// h for a product's input node (x then y): the solver's h when given
    /// (any h is valid), else McCormick's planes, chosen by the sign of g_p.
    func productCoefficient(w: Int, base: Matrix, gp: Matrix, sets: [ProductSet], rule: MultiplierRule) -> Matrix {
        switch rule {
        case .given(let table), .slopesFrom(let table), .slopesFromPrimal(let table, _):
            if let h = table[w] { return h }
        case .crown, .lowerSlopes:
            break
        }
        var h = base
        let n = sets.count
        for c in 0..<base.cols {
            for (i, set) in sets.enumerated() {
                let g = gp[i, c]
                guard g != 0 else { continue }
                let plane = set.crownPlane(lower: g >= 0)
                h[i, c] += plane.x * g
                h[n + i, c] += plane.y * g
            }
        }
        return h
    }

    /// The slope the rule picks for neuron i, whose output carries coefficient y ≠ 0.
    @inline(__always)
    func slope(_ sets: [RelaxedSet], _ i: Int, y: Double, base: Double, guide: Double?, primal: Double?,
               view: SetColumns) -> Double {
        if y < 0 { return guide.map { clamped(($0 - base) / y, sets[i].upperSlopeRange) } ?? view.crownUpper[i] }
        if let p = primal,
           let edge = sets[i].lowerEdgeSlope(at: p, margin: Self.vertexMargin * (sets[i].upper - sets[i].lower)) {
            return edge
        }
        if let g = guide { return clamped((g - base) / y, sets[i].lowerSlopeRange) }
        return view.crownLower[i]
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
    var value: [Double] = []
    var absConstant: [Double] = []
    var propagationMargin: [Double] = []
    var termCount = 0
    /// `bound()`'s results.
    var lower: [Double] = []
    var margin: [Double] = []

    init(columns k: Int = 0) { reset(columns: k) }

    /// Zero sums for k columns, in the storage of the last ones (kept by the scratch across passes).
    mutating func reset(columns k: Int) {
        Self.zero(&value, k)
        Self.zero(&absConstant, k)
        Self.zero(&propagationMargin, k)
        termCount = 0
    }

    static func zero(_ a: inout [Double], _ k: Int) {
        a.removeAll(keepingCapacity: true)
        a.append(contentsOf: repeatElement(0, count: k))
    }

    /// The input term: min over the box of gᵀx.
    mutating func addBox(_ g: Matrix, _ box: Interval) {
        for c in 0..<g.cols {
            for i in 0..<g.rows {
                let gi = g[i, c]
                if gi == 0 { continue }   // 0·∞ would be NaN where a stop's bound is unbounded
                let t = gi >= 0 ? gi * box.lower[i] : gi * box.upper[i]
                value[c] += t
                absConstant[c] += abs(t)
            }
        }
        termCount += g.rows
    }

    /// Σ_i min over neuron i's relaxed set of g_z·z + g_y·y, with g_z = base − h.
    mutating func addSetMinimum(base: Matrix, h: Matrix, gy: Matrix, sets: [RelaxedSet], view: SetColumns) {
        let n = base.rows
        for c in 0..<base.cols {
            let (sum, mag) = view.minimumSum(base: base.data, h: h.data, gy: gy.data, column: c, sets: sets)
            value[c] += sum
            absConstant[c] += mag
        }
        termCount += 3 * n
    }

    /// Σ_i min over product i's tetrahedron of g_x·x + g_y·y + g_p·p, with
    /// (g_x; g_y) = base − h. The corner products' rounding is one rounding of
    /// a term counted in the magnitude (hence 4 terms per neuron).
    mutating func addProductMinimum(base: Matrix, h: Matrix, gp: Matrix, sets: [ProductSet]) {
        let n = sets.count
        for c in 0..<base.cols {
            var sum = 0.0, mag = 0.0
            for (i, set) in sets.enumerated() {
                let gx = base[i, c] - h[i, c], gy = base[n + i, c] - h[n + i, c], g = gp[i, c]
                let m = set.minimum(gx: gx, gy: gy, gp: g)
                let (mx, my, mp) = set.magnitudes
                sum += m
                mag += abs(gx) * mx + abs(gy) * my + abs(g) * mp + abs(m)
            }
            value[c] += sum
            absConstant[c] += mag
        }
        termCount += 4 * n
    }

    /// An affine node's terms in one pass over h: the constant hᵀb, its magnitude |h|ᵀ|b|, and
    /// the rounding of each Wⱼᵀh landing on its input, bounded by |h|ᵀ(Σ_j |W_j| R_j) with the
    /// node's summed weights `propagation` (`DualBound.propagationWeights(of:bounds:)`).
    mutating func addAffine(_ h: Matrix, bias: [Double], absoluteBias: [Double], propagation: [Double]) {
        let n = h.rows
        // Internal: the bias, its magnitude and the weights have one entry per row of h.
        precondition(bias.count == n && absoluteBias.count == n && propagation.count == n)
        let g = Rounding.gamma(n + 2)
        h.data.withUnsafeBufferPointer { hp in
            bias.withUnsafeBufferPointer { b in
                absoluteBias.withUnsafeBufferPointer { ab in
                    propagation.withUnsafeBufferPointer { wr in
                        for c in 0..<h.cols {
                            let o = c * n
                            var v = 0.0, mag = 0.0, prop = 0.0
                            for i in 0..<n {
                                let x = hp[o + i], ax = abs(x)
                                v += x * b[i]
                                mag += ax * ab[i]
                                prop += ax * wr[i]
                            }
                            value[c] += v
                            absConstant[c] += mag
                            propagationMargin[c] += g * prop
                        }
                    }
                }
            }
        }
        termCount += n
    }

    /// The certified lower bound per column and the margin subtracted, into `lower` and `margin`.
    mutating func bound() {
        let g = Rounding.gamma(termCount + 2)
        Self.zero(&lower, value.count)
        Self.zero(&margin, value.count)
        for c in 0..<value.count {
            margin[c] = propagationMargin[c] + g * absConstant[c] + Double.leastNonzeroMagnitude
            lower[c] = value[c] - margin[c]
            if !lower[c].isFinite { lower[c] = -.infinity }
        }
    }
}

/// One node's relaxed sets in the compact form the dual's loops over neurons ×
/// columns read (a RelaxedSet is some 300 bytes; these loops need a few of them).
/// Triangles and segments (every ReLU, most stable neurons) are three vertices,
/// a segment's last repeated, and the magnitudes: `stride` numbers per neuron.
/// Other sets are `isGeneral` and read through their own minimum.
struct SetColumns {
    static let stride = 8
    var packed: [Double] = []
    var crownLower: [Double] = [], crownUpper: [Double] = []
    var isGeneral: [Bool] = []

    init() {}

    init(_ sets: [RelaxedSet]) { update(sets) }

    /// Repacks for `sets`, in the storage of the last ones (kept across messages by `Relaxations`).
    mutating func update(_ sets: [RelaxedSet]) {
        let n = sets.count
        DualSums.zero(&packed, Self.stride * n)
        DualSums.zero(&crownLower, n)
        DualSums.zero(&crownUpper, n)
        isGeneral.removeAll(keepingCapacity: true)
        isGeneral.append(contentsOf: repeatElement(false, count: n))
        for (i, set) in sets.enumerated() {
            let o = Self.stride * i
            (packed[o + 6], packed[o + 7]) = set.magnitudes
            (crownLower[i], crownUpper[i]) = (set.crownLowerSlope, set.crownUpperSlope)
            guard set.isFinite, set.count == 2 || set.count == 3 else {
                isGeneral[i] = true
                continue
            }
            let last = set.count - 1
            (packed[o], packed[o + 1], packed[o + 2], packed[o + 3]) = (set.z(0), set.y(0), set.z(1), set.y(1))
            (packed[o + 4], packed[o + 5]) = (set.z(last), set.y(last))
        }
    }

    /// Σ_i min over set i of g_z·z + g_y·y for one column, and the sum of the
    /// terms' magnitudes (for the rounding margin).
    func minimumSum(base: [Double], h: [Double], gy: [Double], column c: Int,
                    sets: [RelaxedSet]) -> (sum: Double, magnitude: Double) {
        let n = isGeneral.count, o = c * n
        var sum = 0.0, mag = 0.0
        packed.withUnsafeBufferPointer { v in
            for i in 0..<n {
                let gz = base[o + i] - h[o + i]
                let y = gy[o + i]
                let p = Self.stride * i
                let m = isGeneral[i] ? sets[i].minimum(gz: gz, gy: y)
                    : min(gz * v[p] + y * v[p + 1], gz * v[p + 2] + y * v[p + 3], gz * v[p + 4] + y * v[p + 5])
                sum += m
                mag += abs(gz) * v[p + 6] + abs(y) * v[p + 7] + abs(m)
            }
        }
        return (sum, mag)
    }
}

/// The coefficient matrices of backward passes, kept by a caller that makes many (a monitor's tube:
/// every CROWN pass of every message walks the same nodes), so a pass takes its per-node storage
/// from a pool of spare buffers, grown to the largest shape asked, instead of allocating a matrix
/// per node (measured: most of a monitor message's allocations). Contents taken from the pool are
/// meaningless (written with beta = 0 before being read).
public struct DualScratch: Sendable {
    public init() {}
    /// Each node's coefficient in the current pass (nil: nothing reached it yet).
    var values: [Matrix?] = []
    /// Spare storage of any size: a buffer is resized within its capacity for the shape asked.
    var pool: [[Double]] = []
    /// Zero matrices by shape, never written (the coefficient of a node nothing reached).
    var zeros: [Int: Matrix] = [:]

    static func key(_ rows: Int, _ cols: Int) -> Int { rows &* 1_000_003 &+ cols }

    /// The node whose value is the caller's objective matrix (not pool storage: never recycled).
    var objectiveNode: Int? = nil

    /// The dual sums' storage, between passes.
    var sums = DualSums()

    /// A new pass: last pass's coefficients go back to the pool.
    mutating func begin(nodes: Int) {
        for i in values.indices where i != objectiveNode { if let m = values[i] { recycle(m) } }
        if values.count == nodes {
            for i in values.indices { values[i] = nil }
        } else {
            values = [Matrix?](repeating: nil, count: nodes)
        }
        objectiveNode = nil
    }

    /// The sums' storage moved out for a pass over k columns (`finish` hands it back).
    mutating func takeSums(columns k: Int) -> DualSums {
        var s = DualSums()
        swap(&s, &sums)
        s.reset(columns: k)
        return s
    }

    /// The pass is over: its sums' storage is kept, and the caller's objectives are let go (the caller
    /// may then overwrite that matrix in place for its next pass).
    mutating func finish(_ s: DualSums) {
        sums = s
        if let w = objectiveNode { values[w] = nil }
        objectiveNode = nil
    }

    /// The objectives, at the pass's target node.
    mutating func storeObjectives(_ w: Int, _ m: Matrix) {
        store(w, m)
        objectiveNode = w
    }

    func written(_ w: Int) -> Bool { values[w] != nil }
    func coefficient(_ w: Int) -> Matrix? { values[w] }
    mutating func store(_ w: Int, _ m: Matrix) { values[w] = m }

    /// Node u's coefficient moved out when written, else spare storage of the shape.
    mutating func take(_ u: Int, rows: Int, cols: Int) -> Matrix {
        if let m = values[u] {
            values[u] = nil
            return m
        }
        return spare(rows: rows, cols: cols)
    }

    mutating func spare(rows: Int, cols: Int) -> Matrix {
        var d = pool.popLast() ?? []
        d.removeAll(keepingCapacity: true)
        d.append(contentsOf: repeatElement(0, count: rows * cols))
        return Matrix(rows: rows, cols: cols, columnMajor: d)
    }

    /// At most `poolLimit` spare buffers are kept: the pool holds what one pass uses (a buffer per node and
    /// a few h's), so memory stays bounded whatever the caller feeds in.
    static let poolLimit = 4_096

    mutating func recycle(_ m: Matrix) {
        if pool.count < Self.poolLimit { pool.append(m.data) }
    }

    mutating func zero(rows: Int, cols: Int) -> Matrix {
        let k = Self.key(rows, cols)
        if let z = zeros[k], z.rows == rows, z.cols == cols { return z }
        let z = Matrix(rows: rows, cols: cols)
        zeros[k] = z
        return z
    }
}
