import LinearAlgebra
import Network

/// Intermediate (pre-activation) bounds for every node of a graph.
public enum IntermediateBounds {
    /// IBP for every node, then CROWN for each pre-activation node (and each of
    /// `extra`) in topological order (each using the bounds found before it), intersected.
    /// `refine(w, bounds)`, called before node w, may return a new input box: it may
    /// only change inputs that no node before w reads (an ODE step's remainder,
    /// bounded from the states before it).
    /// `stops(w)`: the nodes where w's back-substitution may stop (see `DualBound.evaluate`).
    public static func crown(_ graph: Graph, box initialBox: Interval, dual: DualBound? = nil, extra: Set<Int> = [],
                             stops: ((Int) -> Set<Int>)? = nil,
                             refine: ((Int, [Interval]) -> Interval?)? = nil) -> [Interval] {
        crownWithRelaxations(graph, box: initialBox, dual: dual, extra: extra, stops: stops, refine: refine).bounds
    }

    /// `crown`, also returning every activation's relaxed sets over the bounds found
    /// (for further CROWN passes over the same bounds, which need not rebuild them).
    public static func crownWithRelaxations(_ graph: Graph, box initialBox: Interval, dual: DualBound? = nil,
                                            extra: Set<Int> = [], stops: ((Int) -> Set<Int>)? = nil,
                                            refine: ((Int, [Interval]) -> Interval?)? = nil)
        -> (bounds: [Interval], relaxations: Relaxations) {
        var scratch = DualScratch()
        return crownWithRelaxations(graph, box: initialBox, dual: dual, extra: extra, stops: stops,
                                    scratch: &scratch, refine: refine)
    }

    /// The same, its passes' storage kept in `scratch` (the caller's, across calls).
    /// `prior`: sound bounds already known for every node over the box (a branch-and-bound domain's
    /// parent's, its split neurons clamped): nodes before `from` keep them, and every later node's
    /// new bounds are intersected with them. An empty interval then means no input reaches the domain.
    public static func crownWithRelaxations(_ graph: Graph, box initialBox: Interval, dual: DualBound?,
                                            extra: Set<Int>, stops: ((Int) -> Set<Int>)?,
                                            scratch: inout DualScratch,
                                            prior: [Interval]? = nil, from: Int = 0,
                                            refine: ((Int, [Interval]) -> Interval?)? = nil)
        -> (bounds: [Interval], relaxations: Relaxations) {
        let evaluator = dual ?? DualBound(graph: graph)
        var box = initialBox
        // Every node's bounds are set below in topological order (IBP first, from its inputs' final bounds).
        var bounds = prior ?? [Interval](repeating: Interval(lower: [], upper: []), count: graph.nodes.count)
        if !bounds.isEmpty && prior == nil { bounds[0] = box }
        let pre = Set(graph.preActivationNodes).union(extra)
        // Each activation's sets are built once, when its input's bounds are final.
        var sets = Relaxations()
        for (w, node) in graph.nodes.enumerated() {
            if let refine, let b = refine(w, bounds) {
                box = b
                bounds[0] = b
            }
            if w < from {
                keep(w, node, bounds, evaluator, &sets)
                continue
            }
            switch node.operation {
            case .input:
                continue
            case .elementwise(let op, let u):
                bounds[w] = bounds[u].applying(op)
                sets.add(op, node: u, bounds: bounds[u])
            case .product(let u):
                bounds[w] = bounds[u].products
                sets.addProduct(node: u, bounds: bounds[u])
            case .affine(let a):
                // Refresh IBP from the (possibly tightened) inputs, final from here on.
                bounds[w] = IBP.affine(a, bounds)
                if let prior { bounds[w] = bounds[w].intersected(with: prior[w]) }
                sets.propagation[w] = evaluator.propagationWeights(of: w, bounds: bounds)
                if pre.contains(w) && !isSelection(a, of: pre) {
                    let open = extra.contains(w) ? nil : undecided(w, evaluator, bounds[w])
                    bounds[w] = bounds[w].intersected(with: crownBounds(of: w, box: box, bounds: bounds,
                                                                        evaluator: evaluator, relaxations: sets,
                                                                        stops: stops?(w) ?? [], neurons: open,
                                                                        scratch: &scratch))
                }
            }
        }
        return (bounds, sets)
    }

    /// Node w's sets and margin weights over bounds the caller already has (a node before `from`).
    static func keep(_ w: Int, _ node: Node, _ bounds: [Interval], _ evaluator: DualBound,
                     _ sets: inout Relaxations) {
        switch node.operation {
        case .input: return
        case .elementwise(let op, let u): sets.add(op, node: u, bounds: bounds[u])
        case .product(let u): sets.addProduct(node: u, bounds: bounds[u])
        case .affine: sets.propagation[w] = evaluator.propagationWeights(of: w, bounds: bounds)
        }
    }

    /// The neurons of pre-activation node w whose activation is not linear on their IBP bounds; nil for all.
    /// A neuron whose relaxed set is a segment (a stable ReLU) keeps its IBP bound: CROWN's line through it
    /// is the segment's own, so every later CROWN bound is the same with either interval, and in the LP its
    /// CROWN bound is implied by the layers below (a bound of z over their relaxation). Later nodes' IBP
    /// bounds, intersected with their CROWN bounds, see the looser interval; IBP rarely beats CROWN there
    /// (the examples' verdicts are identical). Measured: most of a monitor's passes (quadrotor, radius
    /// 0.02) were spent on such neurons.
    static func undecided(_ w: Int, _ evaluator: DualBound, _ ibp: Interval) -> [Int]? {
        guard let r = evaluator.activationOf[w], let e = evaluator.graph.nodes[r].operation.elementwise else {
            return nil
        }
        return (0..<ibp.count).filter { !e.op.isLinear(lower: ibp.lower[$0], upper: ibp.upper[$0]) }
    }

    /// Whether every row of `a` is c·v_j + b for one node v bounded by CROWN before it (the box,
    /// or one of `pre`, each CROWN's or itself such a selection): then the interval of `a` over
    /// v's bounds is CROWN's bound of it (the same objective, scaled), as in the Taylor maps,
    /// which read single states (measured: a third of the pendulum's passes).
    static func isSelection(_ a: Affine, of pre: Set<Int>) -> Bool {
        guard a.terms.count == 1, a.terms[0].input == 0 || pre.contains(a.terms[0].input) else { return false }
        switch a.terms[0].map {
        case .diagonal: return true
        case .dense(let m):
            for i in 0..<m.rows {
                var nonzero = 0
                for j in 0..<m.cols where m[i, j] != 0 { nonzero += 1 }
                if nonzero > 1 { return false }
            }
            return true
        case .convolution, .scaled: return false
        }
    }

    /// CROWN bounds of one node: objectives ±e_i, in backward passes of at most
    /// `chunk` neurons each, so memory stays proportional to the activations
    /// times the chunk (never n²) for wide convolutional layers.
    /// `relaxations`: the sets of the activations below w, when the caller keeps them.
    /// `neurons`: only these (the others get (−∞, ∞), to be intersected with what the caller has).
    public static func crownBounds(of w: Int, box: Interval, bounds: [Interval], evaluator: DualBound,
                                   chunk: Int = 128, relaxations: Relaxations? = nil,
                                   stops: Set<Int> = [], neurons: [Int]? = nil) -> Interval {
        var scratch = DualScratch()
        return crownBounds(of: w, box: box, bounds: bounds, evaluator: evaluator, chunk: chunk,
                           relaxations: relaxations, stops: stops, neurons: neurons, scratch: &scratch)
    }

    /// The same, reusing `scratch` across the passes of one bound computation.
    static func crownBounds(of w: Int, box: Interval, bounds: [Interval], evaluator: DualBound,
                            chunk: Int = 128, relaxations: Relaxations?, stops: Set<Int>, neurons: [Int]?,
                            scratch: inout DualScratch) -> Interval {
        let n = evaluator.graph.nodes[w].size
        let wanted = neurons ?? Array(0..<n)
        var lower = [Double](repeating: -.infinity, count: n)
        var upper = [Double](repeating: .infinity, count: n)
        var start = 0
        while start < wanted.count {
            let count = min(max(1, chunk), wanted.count - start)
            var c = Matrix(rows: n, cols: 2 * count)
            for j in 0..<count {
                c[wanted[start + j], j] = 1
                c[wanted[start + j], count + j] = -1
            }
            let r = evaluator.evaluate(target: w, objectives: c, box: box, bounds: bounds, rule: .crown,
                                       keepActivationCoefficients: false, relaxations: relaxations, stops: stops,
                                       scratch: &scratch)
            for j in 0..<count {
                lower[wanted[start + j]] = r.lower[j]
                upper[wanted[start + j]] = -r.lower[count + j]
            }
            start += count
        }
        return Interval(lower: lower, upper: upper)
    }

    /// Count of neurons whose relaxed set is not a segment (not linear on their bounds).
    public static func unstableCount(_ graph: Graph, _ bounds: [Interval]) -> Int {
        let activations = graph.activationOf
        return graph.preActivationNodes.reduce(0) { total, w in
            guard let r = activations[w] else { return total }
            guard let e = graph.nodes[r].operation.elementwise else { return total + graph.nodes[r].size }
            return total + (0..<bounds[w].count).filter {
                !e.op.relaxation(lower: bounds[w].lower[$0], upper: bounds[w].upper[$0]).isLinear
            }.count
        }
    }
}
