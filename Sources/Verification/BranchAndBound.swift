import Bounds
import Dispatch
import LinearAlgebra
import Network
import Splitting

/// One unstable ReLU fixed to a side: z ≥ 0 (active, y = z) or z ≤ 0 (inactive, y = 0). In the relaxation
/// the neuron's triangle becomes a segment: the pre-activation's bounds are clamped at 0, which is sound
/// for the half of the domain the split keeps, so every bound of the child is a bound over that half.
public struct ReLUSplit: Sendable, Hashable {
    /// The pre-activation node and the neuron within it.
    public var node: Int
    public var neuron: Int
    public var active: Bool
}

/// Complete verification of one case (a conjunction of output rows a·y ≤ b that together describe a
/// violation) by branch and bound on ReLU splits. A domain is the input box with some neurons fixed; it
/// is proven when the certified lower bound of one row exceeds its b, or when its bounds are empty (no
/// input reaches it). Each child starts from its parent's bounds: nodes below the split keep them, the
/// later ones are recomputed by CROWN over the clamped neuron and intersected with the parent's.
/// Domains are explored depth first, the child with the worse bound first, so the open list holds at
/// most one waiting sibling per level (the memory cap is a guard, not the usual limit).
struct ReLUBranchAndBound {
    let graph: Graph
    let evaluator: DualBound
    let solver: SplittingSolver?
    let attack: GradientAttack
    var settings: Settings
    /// Open domains held at once; beyond it the case is left `unknown` (the memory cap).
    var maximumDomains: Int
    /// Iterations of the warm-started ADMM solve on a domain α-CROWN leaves open (0: none; a domain with
    /// every neuron fixed is solved to the settings' cap whatever this is).
    var solverIterations: Int
    /// α-CROWN on the rows of a domain CROWN leaves open, before ADMM (0 iterations: none).
    let alpha: AlphaCROWN
    /// Each ReLU's (pre-activation node, activation node): the neurons a split may fix.
    let reluLayers: [(Int, Int)]
    var rule: BranchingRule

    init(graph: Graph, solver: SplittingSolver?, settings: Settings, maximumDomains: Int, solverIterations: Int,
         slopeIterations: Int, rule: BranchingRule) {
        self.graph = graph
        evaluator = solver?.dual ?? DualBound(graph: graph)
        alpha = AlphaCROWN(dual: evaluator, iterations: slopeIterations)
        self.solver = solver
        attack = GradientAttack(graph: graph)
        self.settings = settings
        self.maximumDomains = maximumDomains
        self.solverIterations = solverIterations
        reluLayers = Self.reluLayers(graph)
        self.rule = rule
    }

    /// A domain with its sound bounds, the row bounds found for it and its solver state.
    struct Domain {
        var bounds: [Interval]
        var splits: [ReLUSplit]
        /// Best certified (lower − b) over the rows: the domain is proven when positive.
        var gap: Double
        var branching: ReLUSplit?
        var workspace: Workspace?
        /// α-CROWN's slopes reached on the parent: the child's start.
        var slopes: [Int: Matrix]? = nil
    }

    /// What bounding a domain gave: proven, a counterexample found on the way, or open with its data.
    enum Outcome {
        case proven
        case counterexample([Double], [Double])
        case open(Domain)
    }

    func prove(_ d: Property.Disjunct, deadline: UInt64, report: inout VerificationReport) -> VerificationAnswer {
        let box = Interval(lower: d.lower, upper: d.upper)
        var scratch = DualScratch()
        let root = IntermediateBounds.crownWithRelaxations(graph, box: box, dual: evaluator, extra: [], stops: nil,
                                                           scratch: &scratch)
        var open: [Domain] = []
        switch bound(Domain(bounds: root.bounds, splits: [], gap: -.infinity), sets: root.relaxations, d, box,
                     &scratch, deadline, &report) {
        case .proven: return .unsat
        case .counterexample(let x, let y): return .sat(input: x, output: y)
        case .open(let r):
            guard maximumDomains > 0 else { return .unknown }
            open.append(r)
        }
        var undecided = false
        while let domain = open.popLast() {
            if DispatchTime.now().uptimeNanoseconds >= deadline { return .timeout }
            guard let split = domain.branching else {
                undecided = true   // every neuron fixed (or none splittable) and still open
                continue
            }
            var children: [Domain] = []
            for active in [true, false] {
                let child = ReLUSplit(node: split.node, neuron: split.neuron, active: active)
                guard let start = clamped(domain, child) else { report.domainsProven += 1; continue }
                switch bound(start, sets: nil, d, box, &scratch, deadline, &report) {
                case .proven: report.domainsProven += 1
                case .counterexample(let x, let y): return .sat(input: x, output: y)
                case .open(let c): children.append(c)
                }
            }
            report.reluSplits += 1
            if open.count + children.count > maximumDomains { return .unknown }
            // The worse child last: popped first (depth first on the weakest bound).
            open += children.sorted { $0.gap > $1.gap }
            report.largestOpenList = max(report.largestOpenList, open.count)
        }
        return undecided ? .unknown : .unsat
    }

    /// The child's starting bounds: the parent's with the neuron clamped; nil when that side is empty.
    func clamped(_ parent: Domain, _ split: ReLUSplit) -> Domain? {
        var bounds = parent.bounds
        var b = bounds[split.node]
        if split.active { b.lower[split.neuron] = max(b.lower[split.neuron], 0) }
        else { b.upper[split.neuron] = min(b.upper[split.neuron], 0) }
        guard !(b.lower[split.neuron] > b.upper[split.neuron]) else { return nil }
        bounds[split.node] = b
        return Domain(bounds: bounds, splits: parent.splits + [split], gap: parent.gap, branching: nil,
                      workspace: parent.workspace, slopes: parent.slopes)
    }

    /// Bounds the domain: intermediate bounds after its last split, CROWN on the rows, then (if CROWN
    /// leaves it open) a short warm-started solve; a counterexample is looked for at CROWN's minimiser.
    /// `sets`: the relaxed sets over the domain's bounds when the caller has them (the root's).
    func bound(_ start: Domain, sets: Relaxations?, _ d: Property.Disjunct, _ box: Interval,
               _ scratch: inout DualScratch, _ deadline: UInt64, _ report: inout VerificationReport) -> Outcome {
        var domain = start
        var sets = sets
        report.domainsBounded += 1
        if let last = start.splits.last {
            let refined = IntermediateBounds.crownWithRelaxations(
                graph, box: box, dual: evaluator, extra: [], stops: nil, scratch: &scratch,
                prior: start.bounds, from: last.node + 1)
            if refined.bounds.contains(where: { $0.isEmpty }) { return .proven }
            domain.bounds = refined.bounds
            sets = refined.relaxations
        }
        let c = Self.objectives(d, graph)
        let crown = evaluator.evaluate(target: graph.output, objectives: c, box: box, bounds: domain.bounds,
                                       rule: .crown, keepActivationCoefficients: true, relaxations: sets,
                                       stops: [], scratch: &scratch)
        var lower = crown.lower
        var (gap, row) = Self.bestGap(lower, d)
        if gap > 0 { return .proven }
        let relaxed = sets ?? Relaxations(graph: graph, bounds: domain.bounds)
        if let a = alpha.optimise(target: graph.output, objectives: c, box: box, bounds: domain.bounds,
                                  relaxations: relaxed, start: domain.slopes, targets: d.outputs.map(\.bound),
                                  scratch: &scratch) {
            report.slopeIterations += a.iterations
            domain.slopes = a.slopes
            lower = zip(lower, a.lower).map(max)
            (gap, row) = Self.bestGap(lower, d)
            if gap > 0 { report.domainsProvenBySlopes += 1; return .proven }
        }
        let minimiser = d.lower.indices.map { crown.inputCoefficients[$0, row] > 0 ? d.lower[$0] : d.upper[$0] }
        if let x = falsify(from: minimiser, d, deadline) { return .counterexample(x.0, x.1) }
        if solverIterations > 0, let solver {
            lower = zip(lower, solve(solver, &domain, c, box, d, solverIterations, deadline, &report)).map(max)
            (gap, row) = Self.bestGap(lower, d)
            if gap > 0 { return .proven }
        }
        domain.gap = gap
        domain.branching = branchingNeuron(domain, crown.activationCoefficients, column: row,
                                           objective: c.columns(row..<(row + 1)), box: box, scratch: &scratch)
        // Nothing left to split: with only ReLUs the relaxation is exact on the domain (an LP over one
        // activation pattern), so the solve runs to the settings' own cap, and its minimiser, near a real
        // violation when the LP cannot prove the row, starts an attack before the domain is left open.
        if domain.branching == nil, let solver {
            lower = zip(lower, solve(solver, &domain, c, box, d, settings.maxIterations, deadline, &report)).map(max)
            (gap, row) = Self.bestGap(lower, d)
            if gap > 0 { return .proven }
            if let ws = domain.workspace, let x = solver.inputEstimate(ws, column: row),
               let found = falsify(from: x, d, deadline) {
                return .counterexample(found.0, found.1)
            }
        }
        return .open(domain)
    }

    /// The domain's ADMM bounds: `iterations` from the parent's workspace, stopping early on a column that
    /// clears its row's bound. The certified dual value only, never the primal.
    func solve(_ solver: SplittingSolver, _ domain: inout Domain, _ c: Matrix, _ box: Interval,
               _ d: Property.Disjunct, _ iterations: Int, _ deadline: UInt64,
               _ report: inout VerificationReport) -> [Double] {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < deadline else { return [Double](repeating: -.infinity, count: c.cols) }
        var s = settings
        s.maxIterations = iterations
        s.deadline = Double(deadline - now) / 1e9
        s.targets = d.outputs.map { $0.bound }
        var ws = domain.workspace ?? solver.makeWorkspace(target: graph.output, columns: c.cols)
        guard let sol = try? solver.solve(objectives: c, box: box, bounds: domain.bounds, workspace: &ws,
                                          settings: s) else {
            return [Double](repeating: -.infinity, count: c.cols)
        }
        report.iterations += sol.iterations
        domain.workspace = ws
        return sol.lower
    }

    /// A short attack from a bound's minimiser (CROWN's: each input at the end its coefficient prefers;
    /// or the LP's): a domain whose bound is near its row often holds a real violation there. The start is
    /// clipped to the box; every point found is checked by a forward pass.
    func falsify(from start: [Double], _ d: Property.Disjunct, _ deadline: UInt64) -> ([Double], [Double])? {
        // max(NaN, l) is NaN: a non-finite start coordinate becomes the box's middle.
        let x = d.lower.indices.map { i in
            start[i].isFinite ? min(max(start[i], d.lower[i]), d.upper[i]) : (d.lower[i] + d.upper[i]) / 2
        }
        var short = attack
        short.restarts = 0
        short.steps = Self.domainAttackSteps
        return short.run(lower: d.lower, upper: d.upper, cases: [d.outputs], starts: [x], deadline: deadline)
            .map { ($0.input, $0.output) }
    }

    /// PGD steps from each open domain's minimiser: a tenth of a root attack's.
    static let domainAttackSteps = 5

    /// The rows as objective columns (n_out × rows).
    static func objectives(_ d: Property.Disjunct, _ graph: Graph) -> Matrix {
        var c = Matrix(rows: graph.outputSize, cols: d.outputs.count)
        for (j, con) in d.outputs.enumerated() { for i in 0..<graph.outputSize { c[i, j] = con.coefficients[i] } }
        return c
    }

    /// The largest lower − b over the rows (a strict row proven at 0 too), and its row.
    static func bestGap(_ lower: [Double], _ d: Property.Disjunct) -> (Double, Int) {
        var best = -Double.infinity, row = 0
        for (j, con) in d.outputs.enumerated() {
            var gap = lower[j] - con.bound
            if con.strict && gap == 0 { gap = Double.leastNormalMagnitude }
            if gap > best { best = gap; row = j }
        }
        return (best, row)
    }
}
