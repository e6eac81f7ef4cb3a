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
        var workspace = CrownWorkspace()
        crownWithRelaxations(graph, box: initialBox, dual: dual, extra: extra, stops: stops, scratch: &scratch,
                             workspace: &workspace, prior: prior, from: from, refine: refine)
        return (workspace.bounds, workspace.relaxations)
    }

    /// The same into `workspace`, whose bounds, sets and buffers are overwritten in place: a caller that
    /// makes one pass per message over the same graph (a monitor's tube) keeps it and allocates
    /// (almost) nothing. Every bound is the one a fresh pass computes, bit for bit.
    public static func crownWithRelaxations(_ graph: Graph, box initialBox: Interval, dual: DualBound?,
                                            extra: Set<Int>, stops: ((Int) -> Set<Int>)?,
                                            scratch: inout DualScratch, workspace ws: inout CrownWorkspace,
                                            prior: [Interval]? = nil, from: Int = 0,
                                            refine: ((Int, [Interval]) -> Interval?)? = nil) {
        let evaluator = dual ?? DualBound(graph: graph)
        precondition(evaluator.graph.nodes.count == graph.nodes.count, "`dual` must be the graph's evaluator")
        var box = initialBox
        // Every node's bounds are set below in topological order (IBP first, from its inputs' final bounds).
        ws.start(nodes: graph.nodes.count, box: box, prior: prior)
        // The pre-activation nodes are those in the evaluator's activation table (made once per graph):
        // no set of them per pass (they were a sorted array and two sets of every monitor message).
        func isPre(_ v: Int) -> Bool { evaluator.activationOf[v] != nil || extra.contains(v) }
        // Each activation's sets are built once, when its input's bounds are final.
        for (w, node) in graph.nodes.enumerated() {
            if let refine, let b = refine(w, ws.bounds) {
                box = b
                ws.bounds[0] = b
            }
            if w < from {
                keep(w, node, ws.bounds, evaluator, &ws.relaxations)
                continue
            }
            switch node.operation {
            case .input:
                continue
            case .elementwise(let op, let u):
                ws.bounds.update(w) { iv, all in all[u].applying(op, into: &iv) }
                ws.relaxations.add(op, node: u, bounds: ws.bounds[u])
            case .product(let u):
                ws.bounds[w] = ws.bounds[u].products
                ws.relaxations.addProduct(node: u, bounds: ws.bounds[u])
            case .affine(let a):
                // Refresh IBP from the (possibly tightened) inputs, final from here on.
                var iv = Interval.empty
                swap(&iv, &ws.bounds[w])
                IBP.affine(a, ws.bounds, into: &iv, buffers: &ws.ibp)
                if let prior { iv.intersect(with: prior[w]) }
                swap(&iv, &ws.bounds[w])
                evaluator.propagationWeights(of: w, bounds: ws.bounds,
                                             into: &ws.relaxations.propagation[w, default: []],
                                             magnitudes: &ws.magnitudes)
                if isPre(w) && !isSelection(a, of: isPre) {
                    crownNode(w, box: box, evaluator: evaluator, all: extra.contains(w), stops: stops?(w) ?? [],
                              scratch: &scratch, workspace: &ws)
                }
            }
        }
    }

    /// Pre-activation node w's IBP bounds in `ws` intersected with its CROWN bounds (`all`: every neuron's,
    /// else only those `undecided` names).
    static func crownNode(_ w: Int, box: Interval, evaluator: DualBound, all: Bool, stops: Set<Int>,
                          scratch: inout DualScratch, workspace ws: inout CrownWorkspace) {
        if all {
            ws.neurons.removeAll(keepingCapacity: true)
            ws.neurons.append(contentsOf: 0..<ws.bounds[w].count)
        } else {
            undecided(w, evaluator, ws.bounds[w], into: &ws.neurons)
        }
        crownBounds(of: w, box: box, bounds: ws.bounds, evaluator: evaluator, relaxations: ws.relaxations,
                    stops: stops, neurons: ws.neurons, scratch: &scratch,
                    objectives: &ws.objectives[w, default: Matrix(rows: 0, cols: 0)], into: &ws.crown[w])
        ws.bounds[w].intersect(with: ws.crown[w])
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
    /// Into `neurons` (every neuron when w's activation is not elementwise).
    static func undecided(_ w: Int, _ evaluator: DualBound, _ ibp: Interval, into neurons: inout [Int]) {
        neurons.removeAll(keepingCapacity: true)
        guard let r = evaluator.activationOf[w], let e = evaluator.graph.nodes[r].operation.elementwise else {
            neurons.append(contentsOf: 0..<ibp.count)
            return
        }
        for i in 0..<ibp.count where !e.op.isLinear(lower: ibp.lower[i], upper: ibp.upper[i]) { neurons.append(i) }
    }

    /// Whether every row of `a` is c·v_j + b for one node v bounded by CROWN before it (the box,
    /// or one `isPre` names, each CROWN's or itself such a selection): then the interval of `a` over
    /// v's bounds is CROWN's bound of it (the same objective, scaled), as in the Taylor maps,
    /// which read single states (measured: a third of the pendulum's passes).
    static func isSelection(_ a: Affine, of isPre: (Int) -> Bool) -> Bool {
        guard a.terms.count == 1, a.terms[0].input == 0 || isPre(a.terms[0].input) else { return false }
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
        var objectives = Matrix(rows: 0, cols: 0)
        var result = Interval.empty
        crownBounds(of: w, box: box, bounds: bounds, evaluator: evaluator, chunk: chunk, relaxations: relaxations,
                    stops: stops, neurons: neurons ?? Array(0..<evaluator.graph.nodes[w].size), scratch: &scratch,
                    objectives: &objectives, into: &result)
        return result
    }

    /// The same into `result`, reusing `scratch` and the objective matrix `c` (overwritten when of the
    /// chunk's shape) across the passes of one bound computation and across calls.
    static func crownBounds(of w: Int, box: Interval, bounds: [Interval], evaluator: DualBound,
                            chunk: Int = 128, relaxations: Relaxations?, stops: Set<Int>, neurons wanted: [Int],
                            scratch: inout DualScratch, objectives c: inout Matrix, into result: inout Interval) {
        let n = evaluator.graph.nodes[w].size
        result.resize(to: n)
        for i in 0..<n { (result.lower[i], result.upper[i]) = (-.infinity, .infinity) }
        var start = 0
        while start < wanted.count {
            let count = min(max(1, chunk), wanted.count - start)
            c.zero(rows: n, cols: 2 * count)
            for j in 0..<count {
                c[wanted[start + j], j] = 1
                c[wanted[start + j], count + j] = -1
            }
            let r = evaluator.evaluate(target: w, objectives: c, box: box, bounds: bounds, rule: .crown,
                                       keepActivationCoefficients: false, relaxations: relaxations, stops: stops,
                                       scratch: &scratch)
            for j in 0..<count {
                result.lower[wanted[start + j]] = r.lower[j]
                result.upper[wanted[start + j]] = -r.lower[count + j]
            }
            start += count
        }
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

/// The storage of CROWN passes over one graph, kept by a caller that makes one per message (a monitor's
/// tube): every node's bounds, the activations' sets and margin weights, and the buffers of each node's
/// IBP and CROWN bounds, all overwritten in place by the next pass.
public struct CrownWorkspace: Sendable {
    /// Every node's bounds from the last pass.
    public internal(set) var bounds: [Interval] = []
    /// The activations' sets and margin weights over `bounds`.
    public internal(set) var relaxations = Relaxations()
    var ibp = IBPBuffers()
    /// An affine node's inputs' magnitudes (its margin weights').
    var magnitudes: [Double] = []
    /// The neurons of a node given to CROWN; per node, its CROWN bounds and their objectives (per node:
    /// one buffer for nodes of different sizes would be reallocated at every change of size).
    var neurons: [Int] = []
    var crown: [Interval] = []
    var objectives: [Int: Matrix] = [:]

    public init() {}

    /// A pass over a graph of n nodes from `box`, or from `prior`'s bounds. Bounds of another
    /// node count (another graph) are dropped with their sets.
    mutating func start(nodes n: Int, box: Interval, prior: [Interval]?) {
        if crown.count != n { crown = [Interval](repeating: .empty, count: n) }
        if let prior {
            bounds = prior
            return
        }
        if bounds.count != n {
            bounds = [Interval](repeating: .empty, count: n)
            relaxations = Relaxations()
        }
        // Copied into the kept storage rather than shared (see `Interval.assign`).
        if n > 0 { bounds[0].assign(box) }
    }
}

extension Matrix {
    /// A zero rows × cols matrix, in this one's storage (of any shape: a node's undecided neurons, and
    /// so its objectives' columns, change from message to message) when it is unique and large enough.
    mutating func zero(rows r: Int, cols k: Int) {
        guard rows == r && cols == k else {
            var storage: [Double] = []
            swap(&storage, &data)
            storage.removeAll(keepingCapacity: true)
            storage.append(contentsOf: repeatElement(0, count: r * k))
            self = Matrix(rows: r, cols: k, columnMajor: storage)
            return
        }
        for i in data.indices { data[i] = 0 }
    }
}
