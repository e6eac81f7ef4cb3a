import Bounds
import Dispatch
import LinearAlgebra
import Network

/// Everything that survives between solves of one problem: all primal copies,
/// the global values, the scaled duals and ρ, per objective column. Owned by
/// the caller; solving again with it after the box, the intermediate bounds or
/// the objectives moved a little is a warm start.
public struct Workspace: Sendable {
    public let target: Int
    public let columns: Int
    let layout: Layout
    var y: [Matrix]          // per graph node (empty for dead nodes)
    var x: [Matrix]          // per slot
    var u: [Matrix]          // per slot, scaled duals
    var rho: [Double]        // per column
    /// Columns that have been solved at least once (warm).
    public internal(set) var solved: [Bool]

    public var isWarm: Bool { solved.contains(true) }
}

/// DeepSplit: ADMM on the convex relaxation of a network DAG (each
/// activation's relaxed set, the affine nodes exactly), for many linear
/// objectives at once (columns of a matrix, so the work is GEMM), with
/// certified dual bounds.
public struct SplittingSolver: Sendable {
    public let graph: Graph
    public let dual: DualBound
    /// The graph's affine nodes in scaled variables ỹ_v = y_v / d_v, on which
    /// ADMM runs (activations keep their place; their sets are scaled per solve).
    let scaled: Graph
    /// d_v per node (a positively homogeneous activation, such as ReLU, shares
    /// its pre-activation node's scale, so its closed-form projection applies).
    let scale: [[Double]]
    let projections: [Int: AffineProjection]

    /// `scaling`: per-node bounds (e.g. CROWN's) from which each variable is
    /// scaled by its half-width, so that every variable ADMM sees is of order
    /// one. The scaling is fixed for the solver's life (the factorisations
    /// depend on it); later solves with other bounds stay valid, as it is only
    /// a change of variables.
    /// `matrixFree`: nil lets each affine node pick factored or matrix-free
    /// projection by its size; true or false forces one (for tests and benchmarks).
    public init(graph: Graph, scaling: [Interval]? = nil, matrixFree: Bool? = nil) throws {
        guard graph.isAffine(graph.output) else { throw SplittingError.nonAffineOutput(node: graph.nodes[graph.output].name) }
        self.graph = graph
        dual = DualBound(graph: graph)
        var d: [[Double]] = graph.nodes.map { [Double](repeating: 1, count: $0.size) }
        if let scaling {
            for (v, node) in graph.nodes.enumerated() {
                if let e = node.operation.elementwise, e.op.isPositivelyHomogeneous {
                    d[v] = d[e.input]
                    continue
                }
                let b = scaling[v]
                d[v] = (0..<node.size).map { i in
                    let half = (b.upper[i] - b.lower[i]) / 2
                    let mag = max(abs(b.upper[i]), abs(b.lower[i]))
                    let value = max(half, Self.smallestRelativeScale * max(mag, Self.smallestRelativeScale))
                    return value.isFinite && value > 0 ? value : 1
                }
            }
        }
        scale = d
        var sg = Graph()
        for (v, node) in graph.nodes.enumerated() {
            switch node.operation {
            case .input:
                sg.addInput(name: node.name, size: node.size)
            case .affine(let a):
                let inv = d[v].map { 1 / $0 }
                let terms = a.terms.map { t in
                    AffineTerm(input: t.input, map: t.map.scaled(left: inv, right: d[t.input]))
                }
                _ = try sg.addAffine(name: node.name, terms: terms, bias: zip(a.bias, inv).map { $0 * $1 })
            case .elementwise(let op, let u):
                _ = try sg.addElementwise(name: node.name, op, input: u)
            case .product(let u):
                _ = try sg.addProduct(name: node.name, input: u)
            }
        }
        sg.output = graph.output
        scaled = sg
        var p: [Int: AffineProjection] = [:]
        for (v, node) in sg.nodes.enumerated() {
            if case .affine(let a) = node.operation {
                do { p[v] = try AffineProjection(a, matrixFree: matrixFree) }
                catch { throw SplittingError.factorization(node: node.name, reason: "\(error)") }
            }
        }
        projections = p
    }

    /// A variable's scale is at least this fraction of its magnitude (and this
    /// much absolutely): a point interval must not scale its variable to 0.
    static let smallestRelativeScale = 1e-3

    /// Whether node v's affine projection is solved matrix-free (conjugate gradient).
    public func isMatrixFree(node v: Int) -> Bool { projections[v]?.isMatrixFree ?? false }

    /// The last iterate's network input for one solved objective column, in the graph's units: a point
    /// to start an attack from (an estimate, never a bound). Nil before the column has been solved.
    public func inputEstimate(_ ws: Workspace, column: Int) -> [Double]? {
        guard column >= 0, column < ws.columns, ws.solved[column] else { return nil }
        for (v, node) in graph.nodes.enumerated() {
            guard case .input = node.operation else { continue }
            guard v < ws.y.count, ws.y[v].rows == node.size, column < ws.y[v].cols else { return nil }
            let x = (0..<node.size).map { ws.y[v][$0, column] * scale[v][$0] }
            return x.allSatisfy(\.isFinite) ? x : nil   // a diverged iterate starts nothing
        }
        return nil
    }

    /// A cold workspace for objectives on `target` with `columns` columns.
    public func makeWorkspace(target: Int, columns: Int) -> Workspace {
        let layout = Layout(graph: graph, target: target)
        let y = graph.nodes.indices.map { v in
            layout.slotsOfNode[v].isEmpty ? Matrix(rows: 0, cols: 0) : Matrix(rows: graph.nodes[v].size, cols: columns)
        }
        let x = layout.slotNode.map { Matrix(rows: graph.nodes[$0].size, cols: columns) }
        return Workspace(target: target, columns: columns, layout: layout, y: y, x: x, u: x,
                         rho: [Double](repeating: 0, count: columns),
                         solved: [Bool](repeating: false, count: columns))
    }

    func scaledInterval(_ b: Interval, node v: Int) -> Interval {
        let d = scale[v]
        return Interval(lower: zip(b.lower, d).map { $0 / $1 }, upper: zip(b.upper, d).map { $0 / $1 })
    }

    /// Minimises each column cₖ of `objectives` (n_target × K) over the
    /// relaxation given by `box` and the per-node `bounds`, for the columns
    /// marked `active` (all by default). Returns certified lower bounds.
    public func solve(objectives: Matrix, box: Interval, bounds: [Interval],
                      workspace: inout Workspace, active: [Bool]? = nil,
                      settings: Settings = Settings()) throws(SplittingError) -> Solution {
        try settings.validate()
        let clock = SolveClock(deadline: settings.deadline)
        let k = objectives.cols
        // Internal: objectives are built by our callers from the same target and column count.
        precondition(k == workspace.columns && objectives.rows == graph.nodes[workspace.target].size,
                     "objectives do not match the workspace")
        if let t = settings.targets, t.count != k {
            throw .invalidSetting(name: "targets", value: "\(t.count) values", requirement: "one per objective (\(k))")
        }
        let activeMask = active ?? [Bool](repeating: true, count: k)
        let columns = (0..<k).filter { activeMask[$0] }
        var solution = Solution(columns: k, warm: columns.contains { workspace.solved[$0] })
        if columns.isEmpty { return solution }
        let problem = ScaledProblem(self, objectives: objectives, box: box, bounds: bounds, target: workspace.target)
        var open = crownStart(problem, columns: columns, settings: settings, solution: &solution)
        if open.allWithin(settings.tolerance) || columns.indices.allSatisfy({ j in
            Self.isDecided(settings.targets, column: columns[j], best: open.best[j], upper: open.upper[j])
        }) {
            return finishAtCROWN(open, columns: columns, stop: .converged, clock: clock, solution: solution)
        }
        startCold(&workspace, columns: columns.filter { !workspace.solved[$0] }, problem: problem, settings: settings)
        // Out of time already: CROWN's bound is the answer; no iteration is started.
        if let d = settings.deadline, d <= 0 {
            return finishAtCROWN(open, columns: columns, stop: .deadline, clock: clock, solution: solution)
        }
        var state = WorkingState(workspace: workspace, columns: columns)
        let (iterations, stop) = iterate(&state, &open, &workspace, problem: problem, settings: settings,
                                         clock: clock, solution: &solution)
        for c in columns { workspace.solved[c] = true }
        solution.projectionIterations = state.projectionIterations
        solution.iterations = iterations
        solution.stop = stop
        solution.seconds = clock.elapsed
        return solution
    }

    /// CROWN first: the bound reported is never looser than it. The network
    /// itself at the bound's minimising input is a point of the relaxation, so
    /// its objective bounds the relaxed optimum from above.
    func crownStart(_ p: ScaledProblem, columns: [Int], settings: Settings,
                    solution: inout Solution) -> OpenColumns {
        let original = Self.columns(of: p.original.objectives, columns)
        let crown = dual.evaluate(target: p.target, objectives: original, box: p.original.box,
                                  bounds: p.original.bounds, rule: .crown, keepActivationCoefficients: true,
                                  relaxations: p.sets)
        for (j, c) in columns.enumerated() {
            solution.crownLower[c] = crown.lower[j]
            solution.lower[c] = crown.lower[j]
        }
        let upper = primalCandidates(crown, objectives: original, problem: p)
        return OpenColumns(objectives: Self.columns(of: p.objectives, columns), original: original,
                           best: crown.lower, upper: upper,
                           stall: StallWatch(columns: columns.count, checks: settings.stallChecks))
    }

    func finishAtCROWN(_ open: OpenColumns, columns: [Int], stop: StopReason, clock: SolveClock,
                       solution: Solution) -> Solution {
        var solution = solution
        for (j, c) in columns.enumerated() { solution.primalEstimate[c] = open.upper[j] }
        solution.stop = stop
        solution.seconds = clock.elapsed
        return solution
    }

    /// Cold columns start at the forward pass of the box centre, with ρ ∝ ‖cₖ‖.
    func startCold(_ workspace: inout Workspace, columns cold: [Int], problem p: ScaledProblem, settings: Settings) {
        guard !cold.isEmpty else { return }
        let layout = workspace.layout
        // The network's own values at the box centre, in the solver's units.
        var centre = graph.evaluateAll(p.original.box.center)
        for v in centre.indices { for i in centre[v].indices { centre[v][i] /= scale[v][i] } }
        for v in layout.live {
            for c in cold { for i in 0..<graph.nodes[v].size { workspace.y[v][i, c] = centre[v][i] } }
        }
        for s in layout.slotNode.indices {
            let v = layout.slotNode[s]
            for c in cold {
                for i in 0..<graph.nodes[v].size {
                    workspace.x[s][i, c] = centre[v][i]
                    workspace.u[s][i, c] = 0
                }
            }
        }
        for c in cold {
            var norm = 0.0
            for i in 0..<p.objectives.rows { norm += p.objectives[i, c] * p.objectives[i, c] }
            workspace.rho[c] = settings.rho * max(norm.squareRoot(), Self.smallestObjectiveNorm)
        }
    }

    /// ADMM until every column is certified within tolerance (or stalls), the
    /// iteration cap, or the deadline; returns the iterations and why it stopped.
    func iterate(_ state: inout WorkingState, _ open: inout OpenColumns, _ workspace: inout Workspace,
                 problem p: ScaledProblem, settings: Settings, clock: SolveClock,
                 solution: inout Solution) -> (Int, StopReason) {
        let layout = workspace.layout
        let dimension = layout.live.reduce(0) { $0 + graph.nodes[$1].size }
            + layout.slotNode.reduce(0) { $0 + graph.nodes[$1].size }
        func accelerator(_ columns: Int) -> AndersonAcceleration? {
            settings.andersonMemory > 0
                ? AndersonAcceleration(memory: settings.andersonMemory, dimension: dimension, columns: columns) : nil
        }
        var anderson = accelerator(state.columns.count)
        var iteration = 0
        while iteration < settings.maxIterations {
            iteration += 1
            let residuals = acceleratedStep(&state, &anderson, objectives: open.objectives, problem: p,
                                            layout: layout, settings: settings)
            solution.columnIterations += state.columns.count
            let timeUp = clock.timeUp
            let last = iteration == settings.maxIterations || timeUp
            if isCertificateCheck(iteration, last: last, warm: solution.warm, settings: settings) {
                let done = checkCertificate(state, &open, problem: p, layout: layout, settings: settings,
                                            iteration: iteration, residuals: residuals, solution: &solution)
                if !done.isEmpty || last {
                    let finished = last ? Array(0..<state.columns.count) : done
                    record(finished, of: state, open, residuals: residuals, into: &solution)
                    if last {
                        state.store(into: &workspace)
                        return (iteration, timeUp ? .deadline : .iterationLimit)
                    }
                    state.store(into: &workspace, only: finished)
                    let keep = (0..<state.columns.count).filter { !finished.contains($0) }
                    open.keep(keep)
                    state.keep(keep)
                    if anderson != nil { anderson = accelerator(keep.count) }
                    if state.columns.isEmpty { return (iteration, solution.stalledColumns > 0 ? .stalled : .converged) }
                }
            }
            if settings.rhoUpdatePeriod > 0 && iteration % settings.rhoUpdatePeriod == 0 {
                if state.balanceRho(residuals) { anderson?.reset() }
            }
        }
        return (iteration, .iterationLimit)
    }

    /// One ADMM step, extrapolated by Anderson acceleration when it is on.
    func acceleratedStep(_ state: inout WorkingState, _ anderson: inout AndersonAcceleration?, objectives: Matrix,
                         problem p: ScaledProblem, layout: Layout, settings: Settings) -> Residuals {
        let before = anderson == nil ? [] : state.packed(live: layout.live)
        let residuals = step(&state, objectives: objectives, problem: p, layout: layout,
                             settings: settings)
        if anderson != nil {
            var after = state.packed(live: layout.live)
            anderson?.accelerate(s: before, g: &after)
            state.unpack(after, live: layout.live)
        }
        return residuals
    }

    /// Every `certificatePeriod` iterations and at the last one; warm starts are
    /// often nearly optimal at once, so they are also looked at early.
    func isCertificateCheck(_ iteration: Int, last: Bool, warm: Bool, settings: Settings) -> Bool {
        iteration % max(1, settings.certificatePeriod) == 0 || last
            || (warm && Self.warmCheckIterations.contains(iteration))
    }

    /// Evaluates the certificate and a point of the relaxation for each open
    /// column; returns the columns whose certified gap is within tolerance (or stalled).
    func checkCertificate(_ state: WorkingState, _ open: inout OpenColumns, problem p: ScaledProblem,
                          layout: Layout, settings: Settings, iteration: Int, residuals: Residuals,
                          solution: inout Solution) -> [Int] {
        let (cert, coefficients) = certificate(state, objectives: open.original, problem: p, layout: layout)
        var feasible = feasibleValue(state, objectives: open.objectives, problem: p, layout: layout)
        let atMinimiser = primalCandidates(coefficients, objectives: open.original, problem: p)
        for j in 0..<feasible.count { feasible[j] = min(feasible[j], atMinimiser[j]) }
        if let report = settings.progress, state.columns.count > 0 {
            report(Settings.Progress(iteration: iteration, column: state.columns[0], bound: max(open.best[0], cert[0]),
                                     feasible: feasible[0], primalResidual: residuals.primal[0],
                                     dualResidual: residuals.dual[0], rho: state.rho[0]))
        }
        var done: [Int] = []
        for j in 0..<state.columns.count {
            open.best[j] = max(open.best[j], cert[j])
            open.upper[j] = min(open.upper[j], feasible[j])
            // The relaxed optimum lies in [best, upper]: a certified gap.
            let gap = open.upper[j] - open.best[j]
            if gap <= settings.tolerance * max(1, abs(open.best[j])) {
                done.append(j)
            } else if Self.isDecided(settings.targets, column: state.columns[j], best: open.best[j],
                                     upper: open.upper[j]) {
                done.append(j)
                solution.decidedColumns += 1
            } else if open.stall.isStalled(j, gap: gap) {
                // The best certified bound is kept; iterating on would only burn time.
                done.append(j)
                solution.stalledColumns += 1
            }
        }
        return done
    }

    /// Whether column c's target is settled: its certified bound above it, or a relaxed point below it.
    static func isDecided(_ targets: [Double?]?, column c: Int, best: Double, upper: Double) -> Bool {
        guard let t = targets?[c] ?? nil else { return false }
        return best > t || upper < t
    }

    func record(_ finished: [Int], of state: WorkingState, _ open: OpenColumns, residuals: Residuals,
                into solution: inout Solution) {
        for j in finished {
            let c = state.columns[j]
            solution.lower[c] = open.best[j]
            solution.primalEstimate[c] = open.upper[j]
            solution.primalResidual[c] = residuals.primal[j]
            solution.dualResidual[c] = residuals.dual[j]
        }
    }

    /// Warm solves check the certificate at these iterations as well as every period.
    static let warmCheckIterations: Set<Int> = [1, 3, 6]
    /// ρ of a column is settings.rho·‖cₖ‖; a zero objective still gets a positive ρ.
    static let smallestObjectiveNorm = 1e-12

    static func columns(of m: Matrix, _ cols: [Int]) -> Matrix {
        var out = Matrix(rows: m.rows, cols: cols.count)
        for (j, c) in cols.enumerated() {
            for i in 0..<m.rows { out.data[i + j * m.rows] = m.data[i + c * m.rows] }
        }
        return out
    }

    struct Residuals {
        var primal: [Double]
        var dual: [Double]
    }

    /// One ADMM iteration, as OSQP's named steps: project onto the affine blocks
    /// (update_x), over-relax, project each node's mean onto its own set
    /// (update_z: box clip, ReLU triangle, or free with the objective), then the
    /// scaled dual update and residuals (update_y).
    func step(_ s: inout WorkingState, objectives: Matrix, problem p: ScaledProblem,
              layout: Layout, settings: Settings) -> Residuals {
        projectAffineBlocks(&s, layout: layout, settings: settings)
        let xNorm = overRelax(&s, layout: layout, alpha: settings.alpha)
        let means = nodeMeans(s, objectives: objectives, layout: layout)
        let old = projectNodeSets(&s, means: means, problem: p, layout: layout)
        return updateDuals(&s, old: old, xNorm: xNorm, layout: layout, alpha: settings.alpha)
    }

    /// Block A (update_x): X = Proj_affine(Y − U), one affine node's graph at a time.
    func projectAffineBlocks(_ s: inout WorkingState, layout: Layout, settings: Settings) {
        let k = s.columns.count
        for block in layout.blocks {
            guard let proj = projections[block.node] else { continue }
            let nIn = proj.inputCount, m = proj.outputCount
            s.ensureBuffers(nIn: nIn, m: m)
            var offset = 0
            for slot in block.inputSlots {
                let v = layout.slotNode[slot]
                let n = graph.nodes[v].size
                let yv = s.y[v], uv = s.u[slot]
                for c in 0..<k {
                    for i in 0..<n { s.stack[offset + i + c * nIn] = yv.data[i + c * n] - uv.data[i + c * n] }
                }
                offset += n
            }
            if proj.isMatrixFree {
                // The previous projection (still in the input copies) starts conjugate gradient.
                if s.guess.count < nIn * k { s.guess = [Double](repeating: 0, count: nIn * k) }
                offset = 0
                for slot in block.inputSlots {
                    let n = graph.nodes[layout.slotNode[slot]].size
                    let xs = s.x[slot]
                    for c in 0..<k { for i in 0..<n { s.guess[offset + i + c * nIn] = xs.data[i + c * n] } }
                    offset += n
                }
            }
            s.prepare(slot: block.outputSlot, node: block.node)
            var cgIterations = 0
            s.x[block.outputSlot].data.withUnsafeMutableBufferPointer { cp in
                s.stack.withUnsafeMutableBufferPointer { ap in
                    s.work.withUnsafeMutableBufferPointer { wp in
                        s.guess.withUnsafeBufferPointer { gp in
                            if let a = ap.baseAddress, let cc = cp.baseAddress, let w = wp.baseAddress {
                                cgIterations = proj.project(a: a, c: cc, columns: k, work: w,
                                                            guess: proj.isMatrixFree ? gp.baseAddress : nil,
                                                            tolerance: settings.projectionTolerance,
                                                            maxIterations: settings.projectionMaxIterations)
                            }
                        }
                    }
                }
            }
            s.projectionIterations += cgIterations
            offset = 0
            for slot in block.inputSlots {
                let n = graph.nodes[layout.slotNode[slot]].size
                for c in 0..<k {
                    for i in 0..<n { s.x[slot].data[i + c * n] = s.stack[offset + i + c * nIn] }
                }
                offset += n
            }
        }
    }

    /// Over-relaxed copies X̂ = αX + (1−α)Y_old, kept in x until the dual update;
    /// returns ‖X‖² per column (for the residuals' scale).
    func overRelax(_ s: inout WorkingState, layout: Layout, alpha: Double) -> [Double] {
        let k = s.columns.count
        var xNorm = [Double](repeating: 0, count: k)
        for slot in layout.slotNode.indices {
            let v = layout.slotNode[slot]
            let n = graph.nodes[v].size
            let yv = s.y[v]
            s.x[slot].data.withUnsafeMutableBufferPointer { xp in
                for c in 0..<k {
                    var xn = 0.0
                    for i in 0..<n {
                        let idx = i + c * n
                        xn += xp[idx] * xp[idx]
                        xp[idx] = alpha * xp[idx] + (1 - alpha) * yv.data[idx]
                    }
                    xNorm[c] += xn
                }
            }
        }
        return xNorm
    }

    /// Each node's mean of (X̂ + U) over its copies; the target's also takes the
    /// objective's gradient step −c/(ρ·copies).
    func nodeMeans(_ s: WorkingState, objectives: Matrix, layout: Layout) -> [Matrix?] {
        let k = s.columns.count
        var means = [Matrix?](repeating: nil, count: graph.nodes.count)
        for v in layout.live {
            let n = graph.nodes[v].size
            let slots = layout.slotsOfNode[v]
            var mean = Matrix(rows: n, cols: k)
            if !slots.isEmpty {
                for slot in slots {
                    let xs = s.x[slot].data, us = s.u[slot].data
                    for idx in 0..<(n * k) { mean.data[idx] += xs[idx] + us[idx] }
                }
                let inv = 1 / Double(slots.count)
                for idx in 0..<(n * k) { mean.data[idx] *= inv }
            } else {
                mean = s.y[v]
            }
            if v == layout.target {
                let count = Double(max(1, slots.count))
                for c in 0..<k {
                    let scale = 1 / (s.rho[c] * count)
                    for i in 0..<n { mean.data[i + c * n] -= objectives.data[i + c * n] * scale }
                }
            }
            means[v] = mean
        }
        return means
    }

    /// Block B (update_z): each node's mean projected onto its own set; a ReLU
    /// pair is projected together onto its triangle. Returns the previous values.
    func projectNodeSets(_ s: inout WorkingState, means: [Matrix?], problem p: ScaledProblem,
                         layout: Layout) -> [Matrix?] {
        let k = s.columns.count
        var means = means
        var old = [Matrix?](repeating: nil, count: graph.nodes.count)
        for v in layout.live {
            guard var value = means[v] else { continue }
            old[v] = s.y[v]
            let n = graph.nodes[v].size
            switch graph.nodes[v].operation {
            case .input:
                let box = p.box
                for c in 0..<k {
                    for i in 0..<n { value.data[i + c * n] = min(max(value.data[i + c * n], box.lower[i]), box.upper[i]) }
                }
                s.y[v] = value
            case .affine:
                if let r = layout.activationOf[v], var yr = means[r], let sets = p.scaledProducts[v] {
                    let weights = (x: Double(layout.slotsOfNode[v].count), y: Double(layout.slotsOfNode[v].count),
                                   p: Double(layout.slotsOfNode[r].count))
                    Self.projectProducts(sets, xy: &value, p: &yr, weights: weights)
                    s.y[v] = value
                    old[r] = s.y[r]
                    s.y[r] = yr
                    means[r] = nil
                    continue
                }
                guard let r = layout.activationOf[v], var yr = means[r], let sets = p.scaledSets[v],
                      let e = graph.nodes[r].operation.elementwise else {
                    s.y[v] = value
                    continue
                }
                let weights = (z: Double(layout.slotsOfNode[v].count), y: Double(layout.slotsOfNode[r].count))
                e.op.projectPairs(sets, z: &value.data, y: &yr.data, weightZ: weights.z, weightY: weights.y)
                s.y[v] = value
                old[r] = s.y[r]
                s.y[r] = yr
                means[r] = nil
            case .elementwise, .product:
                continue   // set with its pre-activation node
            }
        }
        return old
    }

    /// Each (x, y, p) triple projected onto its product's tetrahedron (x, y are
    /// rows i and n + i of the input node's value, p row i of the product's).
    static func projectProducts(_ sets: [ProductSet], xy: inout Matrix, p: inout Matrix,
                                weights: (x: Double, y: Double, p: Double)) {
        let n = sets.count
        for c in 0..<p.cols {
            for (i, set) in sets.enumerated() {
                let (x, y, q) = set.project(xy[i, c], xy[n + i, c], p[i, c], weights: weights)
                (xy[i, c], xy[n + i, c], p[i, c]) = (x, y, q)
            }
        }
    }

    /// update_y: the scaled duals U += X̂ − Y, and the primal and dual residuals.
    func updateDuals(_ s: inout WorkingState, old: [Matrix?], xNorm: [Double], layout: Layout,
                     alpha: Double) -> Residuals {
        let k = s.columns.count
        var primal = [Double](repeating: 0, count: k)
        var dual = [Double](repeating: 0, count: k)
        var yNorm = [Double](repeating: 0, count: k)
        var uNorm = [Double](repeating: 0, count: k)
        for slot in layout.slotNode.indices {
            let v = layout.slotNode[slot]
            let n = graph.nodes[v].size
            let yv = s.y[v]
            let yOld = old[v] ?? yv
            s.u[slot].data.withUnsafeMutableBufferPointer { up in
                s.x[slot].data.withUnsafeBufferPointer { xp in
                    for c in 0..<k {
                        var r = 0.0, d = 0.0, yn = 0.0, un = 0.0
                        for i in 0..<n {
                            let idx = i + c * n
                            let diff = xp[idx] - yv.data[idx]
                            up[idx] += diff
                            // primal residual of the un-relaxed copy: (X̂ − (1−α)Y_old)/α − Y
                            let xRaw = (xp[idx] - (1 - alpha) * yOld.data[idx]) / alpha
                            let pr = xRaw - yv.data[idx]
                            r += pr * pr
                            let dy = yv.data[idx] - yOld.data[idx]
                            d += dy * dy
                            yn += yv.data[idx] * yv.data[idx]
                            un += up[idx] * up[idx]
                        }
                        primal[c] += r
                        dual[c] += d
                        yNorm[c] += yn
                        uNorm[c] += un
                    }
                }
            }
        }
        var result = Residuals(primal: primal, dual: dual)
        for c in 0..<k {
            result.primal[c] = primal[c].squareRoot()
            result.dual[c] = s.rho[c] * dual[c].squareRoot()
            let scaleP = max(xNorm[c], yNorm[c]).squareRoot()
            let scaleD = s.rho[c] * uNorm[c].squareRoot()
            s.scalePrimal[c] = scaleP
            s.scaleDual[c] = scaleD
        }
        return result
    }


    /// cₖᵀ y at a point of the relaxation built from the iterate: the input
    /// clipped to the box, affine nodes evaluated exactly, each activation's
    /// output clamped into its relaxed set above z. An upper bound on the relaxed minimum
    /// (+∞ where some z leaves its set's range: the point is then not in the relaxation).
    func feasibleValue(_ s: WorkingState, objectives: Matrix, problem p: ScaledProblem, layout: Layout) -> [Double] {
        let k = s.columns.count
        var values = [Matrix?](repeating: nil, count: graph.nodes.count)
        var inside = [Bool](repeating: true, count: k)
        for v in layout.live {
            let n = graph.nodes[v].size
            switch graph.nodes[v].operation {
            case .input:
                var m = s.y[v]
                let box = p.box
                for c in 0..<k { for i in 0..<n { m.data[i + c * n] = min(max(m.data[i + c * n], box.lower[i]), box.upper[i]) } }
                values[v] = m
            case .affine:
                guard case .affine(let a) = scaled.nodes[v].operation else { continue }
                values[v] = Self.affineValue(a, values, rows: n, columns: k)
            case .product(let u):
                guard let z = values[u], let sets = p.scaledProducts[u] else { continue }
                Self.markOutside(z, nil, sets, &inside)
                var m = s.y[v]
                for c in 0..<k {
                    for (i, set) in sets.enumerated() {
                        let range = set.range(x: z[i, c], y: z[n + i, c])
                        m[i, c] = min(max(m[i, c], range.lower), range.upper)
                    }
                }
                values[v] = m
            case .elementwise(_, let u):
                guard let z = values[u], let sets = p.scaledSets[u] else { continue }
                Self.markOutside(z, sets, nil, &inside)
                var m = s.y[v]
                for c in 0..<k {
                    for i in 0..<n {
                        let idx = i + c * n
                        let range = sets[i].range(at: z.data[idx])
                        m.data[idx] = min(max(m.data[idx], range.lower), range.upper)
                    }
                }
                values[v] = m
            }
        }
        guard let y = values[layout.target] else { return [Double](repeating: .infinity, count: k) }
        let raw = Self.objectiveValues(objectives, y)
        return (0..<k).map { inside[$0] ? raw[$0] : .infinity }
    }

    /// W·inputs + b for K columns, from the inputs' values.
    static func affineValue(_ a: Affine, _ values: [Matrix?], rows n: Int, columns k: Int) -> Matrix {
        var m = Matrix(rows: n, cols: k)
        for c in 0..<k { for i in 0..<n { m.data[i + c * n] = a.bias[i] } }
        for t in a.terms {
            if let x = values[t.input] { t.map.apply(x, into: &m, beta: 1) }
        }
        return m
    }

    /// cₖᵀ y per column.
    static func objectiveValues(_ objectives: Matrix, _ y: Matrix) -> [Double] {
        (0..<objectives.cols).map { c in
            var v = 0.0
            for i in 0..<objectives.rows { v += objectives.data[i + c * objectives.rows] * y.data[i + c * y.rows] }
            return v
        }
    }

    /// Upper bounds on the relaxed minimum from the bound's own minimiser: the
    /// input x* minimising its input term over the box, run through the network
    /// (a point the network attains) and through the relaxation with each
    /// activation on the chain its coefficient's sign selects (the relaxed
    /// optimum when the multipliers are optimal). The smaller value per column.
    func primalCandidates(_ r: DualBound.Result, objectives: Matrix, problem p: ScaledProblem) -> [Double] {
        let k = objectives.cols
        let box = p.original.box, target = p.target
        var x = Matrix(rows: box.count, cols: k)
        let g = r.inputCoefficients
        for c in 0..<k { for i in 0..<box.count { x[i, c] = g[i, c] >= 0 ? box.lower[i] : box.upper[i] } }
        var exactInside = [Bool](repeating: true, count: k)
        var values = [Matrix?](repeating: nil, count: target + 1)
        for v in 0...target {
            switch graph.nodes[v].operation {
            case .input: values[v] = x
            case .affine(let a): values[v] = Self.affineValue(a, values, rows: graph.nodes[v].size, columns: k)
            case .elementwise(let op, let u):
                guard var z = values[u] else { continue }
                Self.markOutside(z, p.sets[u], p.sets.products[u], &exactInside)
                for i in 0..<z.data.count { z.data[i] = op.value(z.data[i]) }
                values[v] = z
            case .product(let u):
                guard let z = values[u] else { continue }
                Self.markOutside(z, p.sets[u], p.sets.products[u], &exactInside)
                values[v] = Graph.products(z)
            }
        }
        let exactRaw = values[target].map { Self.objectiveValues(objectives, $0) }
            ?? [Double](repeating: .infinity, count: k)
        let exact = (0..<k).map { exactInside[$0] ? exactRaw[$0] : .infinity }
        // Relaxed forward pass.
        var inside = [Bool](repeating: true, count: k)
        values = [Matrix?](repeating: nil, count: target + 1)
        for v in 0...target {
            switch graph.nodes[v].operation {
            case .input:
                values[v] = x
            case .affine(let a):
                values[v] = Self.affineValue(a, values, rows: graph.nodes[v].size, columns: k)
            case .product(let u):
                guard let z = values[u], let sets = p.sets.products[u] else { continue }
                Self.markOutside(z, nil, sets, &inside)
                let gp = r.activationCoefficients[v]
                var y = Matrix(rows: sets.count, cols: k)
                for c in 0..<k {
                    for (i, set) in sets.enumerated() {
                        let range = set.range(x: z[i, c], y: z[sets.count + i, c])
                        y[i, c] = gp.map { $0[i, c] < 0 } ?? false ? range.upper : range.lower
                    }
                }
                values[v] = y
            case .elementwise(_, let u):
                guard var y = values[u], let sets = p.sets[u] else { continue }
                Self.markOutside(y, sets, nil, &inside)
                let gy = r.activationCoefficients[v]
                let n = y.rows
                for c in 0..<k {
                    for i in 0..<n {
                        let range = sets[i].range(at: y.data[i + c * n])
                        let useUpper = gy.map { $0[i, c] < 0 } ?? false
                        y.data[i + c * n] = useUpper ? range.upper : range.lower
                    }
                }
                values[v] = y
            }
        }
        let relaxed = values[target].map { Self.objectiveValues(objectives, $0) } ?? exact
        return (0..<k).map { min(exact[$0], inside[$0] ? relaxed[$0] : .infinity) }
    }

    /// Clears `inside` for each column whose pre-activation values z leave the range their sets were built
    /// for: such a point is outside the relaxation, so its objective bounds nothing. With bounds sound over
    /// the box no network point leaves them; bounds clamped by a branch-and-bound split exclude some (an
    /// input whose neuron is on the other side), and taking their value for an upper bound made the solver
    /// give up domains it could prove.
    static func markOutside(_ z: Matrix, _ sets: [RelaxedSet]?, _ products: [ProductSet]?, _ inside: inout [Bool]) {
        let n = z.rows
        func out(_ v: Double, _ l: Double, _ u: Double) -> Bool {
            let slack = rangeSlack * (1 + (u - l))
            return v < l - slack || v > u + slack
        }
        for c in 0..<min(z.cols, inside.count) where inside[c] {
            if let sets {
                for (i, set) in sets.enumerated() where set.isFinite && out(z.data[i + c * n], set.lower, set.upper) {
                    inside[c] = false
                    break
                }
            }
            if let products, inside[c] {
                let m = products.count
                for (i, set) in products.enumerated() where set.isFinite {
                    let x = z.data[i + c * n], y = z.data[m + i + c * n]
                    if out(x, set.lowerX, set.upperX) || out(y, set.lowerY, set.upperY) {
                        inside[c] = false
                        break
                    }
                }
            }
        }
    }

    /// How far (relative to a range's width plus one) a value may stray past the range and still count as
    /// inside: the rounding of the forward pass and of bounds computed to an LP's tolerance (HiGHS's, in the
    /// tests), against a split's clamp, which excludes points by the neuron's whole range.
    static let rangeSlack = 1e-6

    /// The dual bound at the current multipliers (λ_w = −ρ U of each
    /// pre-activation node's affine output copy, in the caller's units), raw
    /// and cleaned by the two slope rules; the best per column, with the
    /// minimiser information of the better slope rule.
    func certificate(_ s: WorkingState, objectives: Matrix, problem p: ScaledProblem,
                     layout: Layout) -> ([Double], DualBound.Result) {
        var table: [Int: Matrix] = [:]
        var primal: [Int: Matrix] = [:]
        for (w, slot) in layout.dualSlot {
            var h = s.u[slot]
            var z = s.y[w]
            let d = scale[w]
            let n = h.rows
            for c in 0..<s.columns.count {
                let r = s.rho[c]
                for i in 0..<n {
                    h.data[i + c * n] *= r / d[i]
                    z.data[i + c * n] *= d[i]
                }
            }
            table[w] = h
            primal[w] = z
        }
        func evaluate(_ rule: MultiplierRule) -> DualBound.Result {
            dual.evaluate(target: layout.target, objectives: objectives, box: p.original.box, bounds: p.original.bounds,
                          rule: rule, keepActivationCoefficients: true, relaxations: p.sets)
        }
        let raw = evaluate(.given(table)).lower
        let cleanedResult = evaluate(.slopesFrom(table))
        let guidedResult = evaluate(.slopesFromPrimal(table, primal))
        let cleaned = cleanedResult.lower, guided = guidedResult.lower
        var chosen = cleanedResult
        var best = [Double](repeating: 0, count: raw.count)
        for c in 0..<raw.count {
            best[c] = max(raw[c], cleaned[c], guided[c])
            guard guided[c] > cleaned[c] else { continue }
            for i in 0..<chosen.inputCoefficients.rows { chosen.inputCoefficients[i, c] = guidedResult.inputCoefficients[i, c] }
            for (node, m) in guidedResult.activationCoefficients {
                guard var mine = chosen.activationCoefficients[node] else { continue }
                for i in 0..<m.rows { mine[i, c] = m[i, c] }
                chosen.activationCoefficients[node] = mine
            }
        }
        return (best, chosen)
    }
}

/// Stops an objective whose certified gap (upper − bound) has not shrunk by a
/// tenth over `checks` certificate checks: on loose relaxations (IBP intermediate
/// bounds) ADMM can circle for ever a little above the tolerance. Its bound is
/// still certified; only the time is saved.
struct StallWatch {
    /// A gap counts as shrinking when it falls below this fraction of the marked one.
    static let progressFactor = 0.9
    let checks: Int
    var marked: [Double]
    var since: [Int]

    init(columns: Int, checks: Int) {
        self.checks = checks
        marked = [Double](repeating: .infinity, count: columns)
        since = [Int](repeating: 0, count: columns)
    }

    mutating func isStalled(_ j: Int, gap: Double) -> Bool {
        guard checks > 0 else { return false }
        if gap <= Self.progressFactor * marked[j] {
            marked[j] = gap
            since[j] = 0
            return false
        }
        since[j] += 1
        return since[j] >= checks
    }

    mutating func keep(_ columns: [Int]) {
        marked = columns.map { marked[$0] }
        since = columns.map { since[$0] }
    }
}
