import Bounds
import Dispatch
import LinearAlgebra
import Network
import Splitting

public enum Verdict: String, Sendable {
    /// Certified: every step's set is disjoint from every unsafe set.
    case safe
    /// The over-approximation touches an unsafe set, and no simulated trajectory does.
    case unknown
    /// A simulated trajectory from the initial set enters an unsafe set.
    case unsafe
    /// The request was malformed; nothing was computed.
    case invalid
}

/// One step's set {x : D x ≤ d} with its certificates.
public struct ReachStep: Sendable {
    public var t: Int
    /// Template rows D and certified upper bounds d of D x_t.
    public var directions: [[Double]]
    public var bounds: [Double]
    /// The state box hull (from the ±e_i rows).
    public var lower: [Double]
    public var upper: [Double]
    /// Certified lower bound of H_r x_t, per unsafe set and row.
    public var unsafeLower: [[Double]]
    /// min over unsafe sets of max over rows of (lower(H_r x) − h_r)/‖H_r‖: positive means
    /// certified clear of every unsafe set by at least that distance along a normal.
    public var margin: Double?
    public var safe: Bool
    /// ODE plants: a box holding every state over the period ending at this step.
    public var intervalLower: [Double]? = nil
    public var intervalUpper: [Double]? = nil
}

public struct ReachTube: Sendable {
    public var steps: [ReachStep]
    public var verdict: Verdict
    /// First step that is not certified safe (0 is the initial set).
    public var firstUnsafeStep: Int?
    /// A simulated trajectory entering an unsafe set (for `unsafe`).
    public var counterexample: [[Double]]?
    public var iterations: Int
    public var seconds: Double
    public var warm: Bool
    /// Why no tube was computed past step 0 (an ODE step without an enclosure).
    public var note: String? = nil
    /// What produced the steps' bounds.
    public var method = TubeMethod.admm
}

public enum TubeMethod: String, Sendable {
    /// Interval bounds alone proved every step safe (`certifyFirst`, discrete one-shot loops).
    case ibp
    /// CROWN's certificates alone proved every step safe (`certifyFirst`).
    case crown
    /// The splitting solver's dual bounds (to its tolerance, iteration limit or deadline).
    case admm
}

/// A reach analysis that cannot bound a step: the verdict is `unknown`, with the reason.
struct NoEnclosure: Error, CustomStringConvertible {
    var description: String
    /// The steps before the failure, whose sets are sound: the states' CROWN boxes of a
    /// one-shot loop (computed before the failing remainder), or a recursive tube's steps.
    var boxes: [Interval] = []
    var steps: [ReachStep] = []
    var prepared: ReachAnalysis.PreparedInput? = nil
}

/// Reachability of a closed loop from an initial box, keeping the solver
/// state between calls so that the next, slightly moved box is warm-started.
public struct ReachAnalysis: Sendable {
    public let system: SystemDescription
    public let horizon: Int
    public let strategy: SystemDescription.Strategy
    public let loop: ClosedLoop
    public var intermediates: IntermediateMethod
    public var settings = Settings()
    public var samples = 1000
    /// Stop at the cheapest certificate: when CROWN alone proves every step safe, the tube
    /// is CROWN's (a verdict needs no tighter set). Off for `reach`, whose sets should be tight.
    public var certifyFirst = false
    var solver: SplittingSolver?
    var intermediateWorkspaces: [Int: Workspace] = [:]
    var stepWorkspaces: [Int: Workspace] = [:]
    /// Recursive strategy: one-step loop and per-step solver state.
    let stepLoop: ClosedLoop?
    var stepSolvers: [Int: SplittingSolver] = [:]
    var recursiveIntermediates: [Int: [Int: Workspace]] = [:]
    let loopDual: DualBound
    let stepDual: DualBound?
    /// The CROWN passes' coefficient storage, kept from message to message.
    var scratch = DualScratch()
    /// `prepare`'s CROWN pass: every node's bounds, sets and buffers, overwritten in place each message.
    var crownWorkspace = CrownWorkspace()
    /// The IBP rung's bounds of every node and its sums, likewise.
    var ibpBounds: [Interval] = []
    var ibpBuffers = IBPBuffers()
    /// The objectives on x_t, fixed by the system: built once, not per message (they were 3 to 13
    /// allocations of every run).
    let objectiveTable: Objectives

    public init(system: SystemDescription, horizon: Int? = nil, strategy: SystemDescription.Strategy? = nil,
                intermediates: IntermediateMethod? = nil) throws {
        self.system = system
        self.horizon = horizon ?? system.horizon
        self.strategy = strategy ?? system.strategy
        self.intermediates = intermediates ?? system.intermediates
        loop = try ClosedLoop(system, steps: self.horizon)
        stepLoop = self.strategy == .recursive ? try ClosedLoop(system, steps: 1) : nil
        loopDual = DualBound(graph: loop.graph)
        stepDual = stepLoop.map { DualBound(graph: $0.graph) }
        objectiveTable = Self.objectives(of: system)
        // IBP's loose triangles leave ADMM circling just above the tolerance (measured on
        // the double integrator: 47,400 iterations for one tube); the relaxation is not
        // tight anyway, so its stalled objectives stop with their certified bounds.
        if self.intermediates == .ibp { settings.stallChecks = Self.ibpStallChecks }
        // Unrolled Taylor maps are smooth operator chains where ADMM crawls (measured on the
        // pendulum, 20 steps: 100,000 iterations); CROWN's start is already near the LP's optimum.
        if case .ode = system.plant { settings.stallChecks = Self.ibpStallChecks }
    }

    /// Certificate checks without a tenth off the gap before an IBP-intermediate objective stops.
    public static let ibpStallChecks = 50

    /// Runs since the IBP rung last decided one. After it fails, it is tried once every `ibpRetryPeriod`
    /// runs only: where it never decides (the double integrator) it cost 5% of each message.
    var ibpMisses = 0
    static let ibpRetryPeriod = 16

    /// The last published tube's steps: the next run writes its steps into their arrays, unique again once
    /// the caller has dropped that tube (one it keeps is copied on write instead, as any array is).
    var recycledSteps: [ReachStep] = []
    /// The objectives' exact values over a step's box (`boxStep`), rewritten at each step.
    var valueStorage: [Double] = []
    /// The input box's storage, refilled by each message (`inputBox`).
    var inputStorage = Interval(lower: [], upper: [])

    /// The previous run's initial box, to tell a jump from a step of the trajectory.
    var previousInitial: Interval?

    /// A new box whose centre moved by more than the larger radius along some state is a
    /// jump (a relocalisation, an episode reset), where a warm start from the old box is no
    /// better than a cold one (bench-monitor --jumps, double integrator: p99 3.5 ms warm, 3.4 cold).
    static func jumped(from old: Interval, to new: Interval) -> Bool {
        guard old.lower.count == new.lower.count else { return true }
        // Each centre coordinate as `Interval.center` computes it, without its arrays (two per message).
        return old.lower.indices.contains { i in
            let a = (old.lower[i] + old.upper[i]) / 2, b = (new.lower[i] + new.upper[i]) / 2
            return abs(b - a) > max(old.upper[i] - old.lower[i], new.upper[i] - new.lower[i]) / 2
        }
    }

    /// Forgets every warm state (the next run starts cold).
    public mutating func resetWarmState() {
        intermediateWorkspaces = [:]
        stepWorkspaces = [:]
        recursiveIntermediates = [:]
    }

    /// Objectives on x_t: −D rows (upper bounds of D x), then H rows (lower bounds of H x).
    func objectives() -> Objectives { objectiveTable }

    static func objectives(of system: SystemDescription) -> Objectives {
        let rows = system.templateRows
        let n = system.stateCount
        let unsafeRows = system.unsafe.flatMap(\.h)
        var c = Matrix(rows: n, cols: rows.count + unsafeRows.count)
        for (j, r) in rows.enumerated() { for i in 0..<n { c[i, j] = -r[i] } }
        for (j, r) in unsafeRows.enumerated() { for i in 0..<n { c[i, rows.count + j] = r[i] } }
        return (c, rows, system.unsafe.map { $0.h.count })
    }

    /// [x0; w per step; remainders (0 until `odeBox` bounds them)], written into `inputStorage`
    /// (the passes copy it into their own kept bounds, so it is unique again at the next message).
    mutating func inputBox(_ x0: Interval, loop: ClosedLoop) -> Interval {
        let w = system.disturbance, size = loop.graph.inputSize
        Self.fill(&inputStorage.lower, x0.lower, repeating: w?.lower, loop.steps, upTo: size)
        Self.fill(&inputStorage.upper, x0.upper, repeating: w?.upper, loop.steps, upTo: size)
        return inputStorage
    }

    /// `v` becomes `start`, then `w` `times` times, then zeros up to `count` coordinates, in its own storage.
    static func fill(_ v: inout [Double], _ start: [Double], repeating w: [Double]?, _ times: Int,
                     upTo count: Int) {
        v.removeAll(keepingCapacity: true)
        v.append(contentsOf: start)
        if let w { for _ in 0..<times { v.append(contentsOf: w) } }
        v.append(contentsOf: repeatElement(0, count: count - v.count))
    }

    /// An ODE loop's input box with its remainders bounded, and per period the
    /// boxes of the sub-steps' starts, their whole-step enclosures and the control's box.
    struct PreparedInput {
        var box: Interval
        var starts: [[[Span]]] = []
        var wholes: [[[Span]]] = []
        var controls: [[Span]] = []
        /// CROWN's bounds of every node over `box` (ODE loops: computed with the remainders).
        var crown: [Interval]? = nil
        /// The relaxed sets over `crown` (built once by that pass).
        var relaxations: Relaxations? = nil
    }

    /// The input box with every remainder of an ODE loop bounded (by CROWN on the
    /// states before it); the plain input box for other plants.
    /// `firstStep`: the step the loop starts at (recursive tubes), for the failure's message.
    /// `truncated`: intermediate passes stop `intermediateDepth` periods back (the quick certificate).
    mutating func prepare(_ x0: Interval, loop: ClosedLoop, firstStep: Int = 0,
                 truncated: Bool = false) throws -> PreparedInput {
        let box = inputBox(x0, loop: loop)
        guard let ode = loop.ode else {
            // No remainders to bound. CROWN's pass over the box is the cheapest rung's intermediates, and
            // its sets and margin weights serve every step's CROWN bound, so it is made once, here.
            IntermediateBounds.crownWithRelaxations(loop.graph, box: box, dual: dual(of: loop), extra: [],
                                                    stops: nil, scratch: &scratch, workspace: &crownWorkspace)
            return PreparedInput(box: box, crown: crownWorkspace.bounds, relaxations: crownWorkspace.relaxations)
        }
        return try prepare(box, ode: ode, loop: loop, firstStep: firstStep, truncated: truncated)
    }

    /// `prepare` for an ODE loop, apart because its remainders' closure captures the prepared input,
    /// which is then kept on the heap (one allocation per message it would cost every other loop).
    mutating func prepare(_ box: Interval, ode: ODEPlant, loop: ClosedLoop, firstStep: Int,
                          truncated: Bool) throws -> PreparedInput {
        var p = PreparedInput(box: box)
        let w = disturbanceSpans
        p.starts = [[[Span]]](repeating: [], count: loop.steps)
        p.wholes = p.starts
        p.controls = [[Span]](repeating: [], count: loop.steps)
        var failure: String? = nil
        var failedPeriod = 0
        let extra = Set(loop.substepNodes.flatMap { $0 } + loop.controlNodes.filter { $0 >= 0 })
        let stops = truncated ? Self.stops(loop) : nil
        IntermediateBounds.crownWithRelaxations(loop.graph, box: p.box, dual: dual(of: loop), extra: extra,
                                                stops: stops, scratch: &scratch,
                                                workspace: &crownWorkspace) { v, bounds in
            guard failure == nil, let (t, j) = loop.remainderReaders[v] else { return nil }
            let x = bounds[loop.substepNodes[t][j]].spans
            let u = loop.controlNodes[t] >= 0 ? bounds[loop.controlNodes[t]].spans : []
            guard let r = ode.remainder(x, inputs: u, disturbances: w) else {
                failure = Self.enclosureFailure(ode, x, u, w, period: firstStep + t, substep: j)
                failedPeriod = t
                return nil
            }
            p.wholes[t].append(r.whole)
            p.starts[t].append(x)
            p.controls[t] = u
            let offset = loop.remainderOffset(period: t, substep: j)
            for (i, s) in r.remainder.enumerated() {
                p.box.lower[offset + i] = s.lower
                p.box.upper[offset + i] = s.upper
            }
            return p.box
        }
        var crown = crownWorkspace.bounds
        if let failure {
            // States up to the failing period were bounded with every remainder before them.
            let boxes = (0..<failedPeriod).map { crown[loop.stateNodes[$0 + 1]] }
            throw NoEnclosure(description: failure, boxes: boxes, prepared: p)
        }
        crown[0] = p.box
        p.crown = crown
        p.relaxations = crownWorkspace.relaxations
        return p
    }

    /// Periods an intermediate node's CROWN pass goes back before it stops at that period's
    /// state (whose own bound went to the input). Measured on the examples (certify first, warm):
    /// the pendulum's 20 steps take 61 ms going to the input and 32 ms at 4, the last step 1.0× as
    /// wide; at 2 the unicycle's last step is 1.41× the hull instead of 1.20×.
    static let intermediateDepth = 4

    /// Where each node's pass stops: the state `intermediateDepth` periods back; the states
    /// themselves (the tube's and the remainders' boxes) go to the input.
    static func stops(_ loop: ClosedLoop) -> (Int) -> Set<Int> {
        let states = loop.stateNodes
        let full = Set(loop.substepNodes.flatMap { $0 })
        let depth = intermediateDepth
        return { w in
            guard !full.contains(w), let t = states.lastIndex(where: { $0 < w }), t - depth + 1 >= 1 else { return [] }
            return [states[t - depth + 1]]
        }
    }

    var disturbanceSpans: [Span] {
        system.disturbance.map { d in zip(d.lower, d.upper).map { Span($0, $1) } } ?? []
    }

    static func enclosureFailure(_ ode: ODEPlant, _ x: [Span], _ u: [Span], _ w: [Span], period t: Int,
                                 substep j: Int) -> String {
        let env = ode.integrator.environment(x, ode.fixed(inputs: u, disturbances: w))
        let place = "step \(t + 1), sub-step \(j + 1) of \(ode.substeps)"
        if x.contains(where: { !$0.lower.isFinite || !$0.upper.isFinite }) {
            return "\(place): the state's box is unbounded (the tube has lost the state); "
                + "no set is claimed past step \(t)"
        }
        if let i = ode.dynamics.indices.first(where: { ode.dynamics[$0].interval(env) == nil }) {
            return "\(place): [plant] dynamics[\(i)] leaves its domain (a divisor or a sqrt argument reaches 0) "
                + "over this box; no set is claimed"
        }
        return "\(place): no a-priori enclosure of the flow over this box (the sub-step is too long for the "
            + "dynamics here); no set is claimed past step \(t); a larger [reach] substeps may help"
    }

    /// The box over period t (ending at step t + 1): the hull of its sub-steps'
    /// whole-step enclosures, the first one also redone from the solved box of step t.
    func periodBox(_ p: PreparedInput, period t: Int, solved: ReachStep, loop: ClosedLoop) -> [Span]? {
        guard let ode = loop.ode, t < p.wholes.count, var hull = p.wholes[t].first else { return nil }
        let start = p.starts[t][0].indices.map { i in
            Span(max(p.starts[t][0][i].lower, solved.lower[i]), min(p.starts[t][0][i].upper, solved.upper[i]))
        }
        if let r = ode.remainder(start, inputs: p.controls[t], disturbances: disturbanceSpans) {
            hull = zip(hull, r.whole).map { Span(max($0.lower, $1.lower), min($0.upper, $1.upper)) }
        }
        for whole in p.wholes[t].dropFirst() { hull = zip(hull, whole).map { $0.hull($1) } }
        return hull
    }

    /// `budget`: seconds for the whole tube. Past it every remaining solve stops
    /// at once with the best certified bound it has (at least CROWN's).
    public mutating func run(initial: Interval, budget: Double? = nil) throws -> ReachTube {
        let t = try tube(initial: initial, budget: budget)
        recycledSteps = t.steps
        return t
    }

    /// `run`'s tube, its steps written into those `recycledSteps` holds.
    mutating func tube(initial: Interval, budget: Double?) throws -> ReachTube {
        let clock = TubeClock(start: DispatchTime.now().uptimeNanoseconds, budget: budget,
                              deadline: settings.deadline)
        _ = try initial.validatedAsBox(dimension: system.stateCount, name: "initial set")
        if let old = previousInitial, Self.jumped(from: old, to: initial) { resetWarmState() }
        previousInitial = initial
        let objectives = objectives()
        // Step 0: the initial box itself, exactly.
        // Room for every step, so that appending a rung's steps does not reallocate.
        var steps: [ReachStep] = []
        steps.reserveCapacity(horizon + 1)
        steps.append(boxStep(t: 0, initial, objectives: objectives))
        var count = StepCount()
        var method = TubeMethod.admm
        if certifyFirst, ibpMisses % Self.ibpRetryPeriod == 0, let ibp = ibpSteps(initial, objectives: objectives) {
            // Finite sets too: a tube the monitor's self-check would refuse falls through to CROWN.
            if ibp.allSatisfy({ $0.safe && $0.bounds.allSatisfy(\.isFinite) }) {
                ibpMisses = 0
                steps += ibp
                return verdict(steps, initial: initial, count: count, method: .ibp, clock: clock)
            }
            // Not published: their arrays serve the next rung's steps.
            recycledSteps += ibp
        }
        if certifyFirst { ibpMisses += 1 }
        do {
            var reusable: PreparedInput? = nil
            let quick = certifyFirst ? try quickSteps(from: steps[0], initial: initial, objectives: objectives,
                                                      clock: clock, count: &count, prepared: &reusable) : nil
            if let quick, quick.allSatisfy(\.safe) {
                method = .crown
                steps += quick
            } else if let quick, let hit = falsify(initial, limit: earlyFalsificationLimit) {
                // A real trajectory into an unsafe set: no tighter rung could prove this state safe,
                // so the verdict is final and the quick rung's sound tube is published with it.
                steps += quick
                return falsifiedTube(steps, hit, count: count, clock: clock)
            } else {
                let prepared = try reusable ?? (strategy == .oneShot ? prepare(initial, loop: loop) : nil)
                // Next rung: CROWN with its passes to the input (a one-shot loop's prepare made them).
                var crown: [ReachStep] = []
                if certifyFirst, truncates {
                    crown = try tubeSteps(from: steps[0], initial: initial, prepared: prepared, quick: true,
                                          objectives: objectives, clock: clock, count: &count)
                }
                if !crown.isEmpty && crown.allSatisfy(\.safe) {
                    method = .crown
                    steps += crown
                } else {
                    steps += try tubeSteps(from: steps[0], initial: initial, prepared: prepared, quick: false,
                                           objectives: objectives, clock: clock, count: &count)
                }
            }
        } catch let failure as NoEnclosure {
            // No sound set past here: the verdict cannot be `safe`. The steps before it are kept.
            steps += failure.steps
            for box in failure.boxes {
                let t = steps.count
                let period = failure.prepared.flatMap { periodBox($0, period: t - 1, solved: steps[t - 1], loop: loop) }
                steps.append(step(t: t, values: boxValues(box, objectives.c), rows: objectives.rows,
                                  unsafeCounts: objectives.unsafeCounts, period: period))
            }
            let first = steps.first(where: { !$0.safe })?.t ?? steps.count
            var tube = ReachTube(steps: steps, verdict: .unknown, firstUnsafeStep: first,
                                 counterexample: nil, iterations: count.iterations, seconds: 0, warm: count.warm)
            tube.note = failure.description
            if let (trajectory, t) = falsify(initial) {
                tube.verdict = .unsafe
                tube.firstUnsafeStep = t
                tube.counterexample = trajectory
            }
            tube.seconds = clock.elapsed
            return tube
        }
        return verdict(steps, initial: initial, count: count, method: method, clock: clock)
    }

    /// The `unsafe` tube of a falsified state, its steps those of the cheapest rung.
    func falsifiedTube(_ steps: [ReachStep], _ hit: ([[Double]], Int), count: StepCount,
                       clock: TubeClock) -> ReachTube {
        var tube = ReachTube(steps: steps, verdict: .unsafe, firstUnsafeStep: hit.1, counterexample: hit.0,
                             iterations: count.iterations, seconds: clock.elapsed, warm: count.warm)
        tube.method = .crown
        return tube
    }

    /// Falsification first (a real trajectory beats any bound). A tube certified safe at
    /// every step contains every trajectory, so no simulation can enter an unsafe set: skip it then.
    func verdict(_ steps: [ReachStep], initial: Interval, count: StepCount, method: TubeMethod,
                 clock: TubeClock) -> ReachTube {
        var tube = ReachTube(steps: steps, verdict: .safe, firstUnsafeStep: nil, counterexample: nil,
                             iterations: count.iterations, seconds: 0, warm: count.warm)
        tube.method = method
        if !steps.allSatisfy(\.safe), let (trajectory, t) = falsify(initial) {
            tube.verdict = .unsafe
            tube.firstUnsafeStep = t
            tube.counterexample = trajectory
        } else if let first = steps.first(where: { !$0.safe }) {
            tube.verdict = .unknown
            tube.firstUnsafeStep = first.t
        }
        tube.seconds = clock.elapsed
        return tube
    }

    /// The cheapest rung: every state's interval bounds (no back-substitution), for a discrete one-shot
    /// loop; nil for others (an ODE loop's remainders need `prepare`). Sound like CROWN's, only looser.
    mutating func ibpSteps(_ initial: Interval, objectives o: Objectives) -> [ReachStep]? {
        guard strategy == .oneShot, loop.ode == nil else { return nil }
        IBP.bounds(loop.graph, box: inputBox(initial, loop: loop), into: &ibpBounds, buffers: &ibpBuffers)
        var steps: [ReachStep] = []
        steps.reserveCapacity(horizon)
        for t in 1...horizon { steps.append(boxStep(t: t, ibpBounds[loop.stateNodes[t]], objectives: o)) }
        return steps
    }

    /// Step t's set from the exact values of the objectives over `box`, those written into `valueStorage`
    /// (one array per step and message before; `step` reads them without keeping them).
    mutating func boxStep(t: Int, _ box: Interval, objectives o: Objectives) -> ReachStep {
        Self.boxValues(box, o.c, into: &valueStorage)
        return step(t: t, values: valueStorage, rows: o.rows, unsafeCounts: o.unsafeCounts)
    }

    /// The cheapest certificate: CROWN's tube, its intermediate passes truncated (`stops`); nil when
    /// it loses the state where fuller passes may not. `prepared`: the one-shot input when it was
    /// not truncated, for the rungs after this one.
    mutating func quickSteps(from first: ReachStep, initial: Interval, objectives: Objectives, clock: TubeClock,
                             count: inout StepCount, prepared reusable: inout PreparedInput?) throws -> [ReachStep]? {
        do {
            let prepared = strategy == .oneShot ? try prepare(initial, loop: loop, truncated: truncates) : nil
            if !truncates { reusable = prepared }
            let quick = try tubeSteps(from: first, initial: initial, prepared: prepared, quick: true,
                                      objectives: objectives, clock: clock, count: &count)
            return quick
        } catch is NoEnclosure where truncates || strategy == .recursive {
            return nil
        }
    }

    /// Whether the quick rung's passes stop short of the input (else it is the full CROWN rung).
    /// Only an ODE loop's are truncated (`prepare`): a discrete loop's quick rung is the full one.
    var truncates: Bool { strategy == .oneShot && horizon > Self.intermediateDepth && loop.ode != nil }

    /// The dual evaluator of the one-shot or the one-step loop (its |W| and |b| made once, not per message).
    func dual(of l: ClosedLoop) -> DualBound {
        l.steps == loop.steps ? loopDual : stepDual ?? DualBound(graph: l.graph)
    }

    /// Iterations and warm starts summed over a tube's solves.
    struct StepCount {
        var iterations = 0
        var warm = false
    }

    /// The tube's time budget: what is left of it for the next solve.
    struct TubeClock {
        let start: UInt64
        let budget: Double?
        let deadline: Double?
        var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var remaining: Double? { budget.map { max(0, $0 - elapsed) } ?? deadline }
    }

    typealias Objectives = (c: Matrix, rows: [[Double]], unsafeCounts: [Int])

    /// Steps 1...horizon. `quick`: CROWN intermediates and CROWN's bound of every
    /// objective, no iteration (the cheapest certificate).
    mutating func tubeSteps(from first: ReachStep, initial: Interval, prepared: PreparedInput?, quick: Bool,
                            objectives o: Objectives, clock: TubeClock, count: inout StepCount) throws -> [ReachStep] {
        let method = quick ? IntermediateMethod.crown : intermediates
        // Steps 1...t; `first` stands before them (one array per call, not one per append).
        var steps: [ReachStep] = []
        steps.reserveCapacity(horizon)
        switch strategy {
        case .oneShot:
            guard let p = prepared else { throw SystemError("no prepared input") }
            if solver == nil {
                solver = try SplittingSolver(graph: loop.graph,
                                             scaling: p.crown ?? IntermediateBounds.crown(loop.graph, box: p.box))
            }
            guard let solver else { throw SystemError("solver could not be built") }
            // Moved out and back, so that the solver's writes do not copy them.
            var wss = intermediateWorkspaces
            intermediateWorkspaces = [:]
            let bounds = try intermediateBounds(solver, p, method: method, workspaces: &wss, clock: clock,
                                                count: &count)
            intermediateWorkspaces = wss
            for t in 1...horizon {
                let values = try stepValues(solver, p, bounds: bounds, step: t, target: loop.stateNodes[t],
                                            objectives: o.c, quick: quick, clock: clock, count: &count)
                let period = periodBox(p, period: t - 1, solved: steps.last ?? first, loop: loop)
                steps.append(step(t: t, values: values, rows: o.rows, unsafeCounts: o.unsafeCounts, period: period))
            }
        case .recursive:
            guard let one = stepLoop else { throw SystemError("no one-step loop") }
            var current = initial
            for t in 1...horizon {
                let p: PreparedInput
                do { p = try prepare(current, loop: one, firstStep: t - 1, truncated: quick) }
                catch var failure as NoEnclosure {
                    failure.steps = steps
                    failure.boxes = []
                    throw failure
                }
                if stepSolvers[t] == nil {
                    stepSolvers[t] = try SplittingSolver(graph: one.graph,
                                                         scaling: p.crown ?? IntermediateBounds.crown(one.graph,
                                                                                                       box: p.box))
                }
                guard let s = stepSolvers[t] else { throw SystemError("solver could not be built") }
                var wss = recursiveIntermediates.removeValue(forKey: t) ?? [:]
                let bounds = try intermediateBounds(s, p, method: method, workspaces: &wss, clock: clock,
                                                    count: &count)
                recursiveIntermediates[t] = wss
                let values = try stepValues(s, p, bounds: bounds, step: t, target: one.stateNodes[1],
                                            objectives: o.c, quick: quick, clock: clock, count: &count)
                let period = periodBox(p, period: 0, solved: steps.last ?? first, loop: one)
                let st = step(t: t, values: values, rows: o.rows, unsafeCounts: o.unsafeCounts, period: period)
                steps.append(st)
                current = Interval(lower: st.lower, upper: st.upper)
            }
        }
        return steps
    }

    /// Step t's objective values: CROWN's bound (`quick`), else the solver's from step t's warm workspace.
    mutating func stepValues(_ solver: SplittingSolver, _ p: PreparedInput, bounds: [Interval], step t: Int,
                             target: Int, objectives c: Matrix, quick: Bool, clock: TubeClock,
                             count: inout StepCount) throws -> [Double] {
        if quick {
            return Self.crownStep(solver, p, bounds: bounds, target: target, objectives: c, scratch: &scratch)
        }
        var ws = stepWorkspaces.removeValue(forKey: t) ?? solver.makeWorkspace(target: target, columns: c.cols)
        let values = try solveStep(solver, p, bounds: bounds, workspace: &ws, objectives: c,
                                   targets: decisionTargets(step: t, columns: c.cols), clock: clock, count: &count)
        stepWorkspaces[t] = ws
        return values
    }

    /// CROWN's intermediates are those `prepare` already computed for an ODE loop (the
    /// same pass over the same box), so they are not recomputed.
    func intermediateBounds(_ solver: SplittingSolver, _ p: PreparedInput, method: IntermediateMethod,
                            workspaces: inout [Int: Workspace], clock: TubeClock,
                            count: inout StepCount) throws -> [Interval] {
        if method == .crown, let crown = p.crown { return crown }
        var stats = IntermediateStatistics()
        var s = settings
        s.deadline = clock.remaining
        let bounds = try solver.intermediateBounds(box: p.box, method: method, workspaces: &workspaces,
                                                   settings: s, statistics: &stats)
        count.iterations += stats.iterations
        return bounds
    }

    /// One step's objective values by the splitting solver (certified dual bounds, at least CROWN's).
    func solveStep(_ solver: SplittingSolver, _ p: PreparedInput, bounds: [Interval], workspace: inout Workspace,
                   objectives c: Matrix, targets: [Double?]?, clock: TubeClock,
                   count: inout StepCount) throws -> [Double] {
        var s = settings
        s.deadline = clock.remaining
        s.targets = targets
        let sol = try solver.solve(objectives: c, box: p.box, bounds: bounds, workspace: &workspace, settings: s)
        count.warm = count.warm || sol.warm
        count.iterations += sol.iterations
        return sol.lower
    }

    /// Per objective column of step t, the value its verdict turns on (`Settings.targets`), for a monitor
    /// (`certifyFirst`); nil for `reach`, whose sets should be tight. An unsafe row proves its set disjoint
    /// once its bound exceeds the row's offset; a row of a set not checked at t, and a template row
    /// of a one-shot tube without interval-mode sets, decide nothing (their sets are only published).
    /// Recursive tubes start each step from the last step's box, and interval-mode sets read the
    /// template rows: those iterate to tolerance as before.
    func decisionTargets(step t: Int, columns: Int) -> [Double?]? {
        guard certifyFirst else { return nil }
        let publishedOnly = strategy == .oneShot && !system.unsafe.contains { $0.mode == .interval }
        var targets = [Double?](repeating: publishedOnly ? -.infinity : nil, count: objectiveTable.rows.count)
        for set in system.unsafe {
            for r in set.h.indices {
                targets.append(set.mode == .interval ? nil : set.applies(at: t) ? set.bound[r] : -.infinity)
            }
        }
        return targets.count == columns ? targets : nil
    }

    /// CROWN's certified bound of a step's objectives: the solver's own start, without
    /// the primal candidates and the scaled problem it builds for iterating.
    static func crownStep(_ solver: SplittingSolver, _ p: PreparedInput, bounds: [Interval], target: Int,
                   objectives c: Matrix, scratch: inout DualScratch) -> [Double] {
        // The sets were built over `p.crown`; other bounds (LP intermediates) build their own.
        let sets = p.crown.map { $0 == bounds } == true ? p.relaxations : nil
        return solver.dual.evaluate(target: target, objectives: c, box: p.box, bounds: bounds, rule: .crown,
                                    keepActivationCoefficients: false, relaxations: sets, stops: [],
                                    scratch: &scratch).lower
    }

    /// Exact lower bounds of each objective column over a box (for step 0).
    func boxValues(_ box: Interval, _ c: Matrix) -> [Double] {
        var values: [Double] = []
        Self.boxValues(box, c, into: &values)
        return values
    }

    /// The same into `values` (its storage reused when unique).
    static func boxValues(_ box: Interval, _ c: Matrix, into values: inout [Double]) {
        values.removeAll(keepingCapacity: true)
        for j in 0..<c.cols {
            var v = 0.0, mag = 0.0
            for i in 0..<c.rows {
                let a = c[i, j]
                let t = a >= 0 ? a * box.lower[i] : a * box.upper[i]
                v += t
                mag += abs(t)
            }
            values.append(v - Rounding.gamma(c.rows) * mag)
        }
    }

    /// Step t's set from the solved values; `period`: the box over the period ending at t (ODE plants).
    /// Written into the arrays of a step of the last published tube (`recycledSteps`) when one is left.
    mutating func step(t: Int, values: [Double], rows: [[Double]], unsafeCounts: [Int],
                       period: [Span]? = nil) -> ReachStep {
        var s = recycledSteps.popLast() ?? ReachStep(t: t, directions: [], bounds: [], lower: [], upper: [],
                                                     unsafeLower: [], margin: nil, safe: true)
        s.t = t
        s.directions = rows
        Self.templateSet(&s, values: values, rows: rows, states: system.stateCount)
        unsafeBounds(&s, values: values, offset: rows.count, counts: unsafeCounts, period: period)
        s.intervalLower = period?.map(\.lower)
        s.intervalUpper = period?.map(\.upper)
        return s
    }

    /// The step's bounds d = −values of the template rows, and its box hull from the ±e_i rows.
    static func templateSet(_ s: inout ReachStep, values: [Double], rows: [[Double]], states n: Int) {
        s.bounds.removeAll(keepingCapacity: true)
        for j in 0..<rows.count { s.bounds.append(-values[j]) }
        s.lower.removeAll(keepingCapacity: true)
        s.lower.append(contentsOf: repeatElement(-.infinity, count: n))
        s.upper.removeAll(keepingCapacity: true)
        s.upper.append(contentsOf: repeatElement(.infinity, count: n))
        for (j, r) in rows.enumerated() {
            // Counted lazily: no array per row and step.
            if let i = r.firstIndex(where: { $0 != 0 }), r.lazy.filter({ $0 != 0 }).count == 1 {
                let d = s.bounds[j]
                if r[i] > 0 {
                    s.upper[i] = min(s.upper[i], d / r[i])
                } else {
                    s.lower[i] = max(s.lower[i], -d / -r[i])
                }
            }
        }
    }

    /// Each unsafe set's certified lower bounds of H x (from `values` past `offset`, or over the period's
    /// box for interval-mode sets), the step's margin and whether it is certified safe.
    func unsafeBounds(_ s: inout ReachStep, values: [Double], offset start: Int, counts: [Int], period: [Span]?) {
        if s.unsafeLower.count != counts.count { s.unsafeLower = [[Double]](repeating: [], count: counts.count) }
        var offset = start
        s.margin = nil
        s.safe = true
        for (k, count) in counts.enumerated() {
            let set = system.unsafe[k]
            s.unsafeLower[k].removeAll(keepingCapacity: true)
            if set.mode == .interval, let period {
                // The period's box holds the sample too; its lower bound of H_r x, rounded down.
                for row in set.h { s.unsafeLower[k].append(Self.lowerBound(row, period)) }
            } else {
                s.unsafeLower[k].append(contentsOf: values[offset..<(offset + count)])
            }
            offset += count
            guard set.applies(at: s.t) else { continue }
            var best = -Double.infinity
            for r in 0..<count {
                let norm = set.h[r].reduce(0) { $0 + $1 * $1 }.squareRoot()
                best = max(best, (s.unsafeLower[k][r] - set.bound[r]) / norm)
            }
            // Disjoint when one row's certified minimum exceeds its threshold.
            if !(best > 0) { s.safe = false }
            s.margin = min(s.margin ?? .infinity, best)
        }
    }

    /// min of row·x over the box, rounded down (outward).
    static func lowerBound(_ row: [Double], _ box: [Span]) -> Double {
        var total = Span.point(0)
        for (a, s) in zip(row, box) where a != 0 { total = total + Span.point(a) * s }
        return total.lower
    }

    /// Corners (few states), centre and random initial states, with random
    /// disturbances, simulated exactly; returns a trajectory entering an unsafe set.
    /// `limit`: at most this many random starts (the early pass before the iterative rungs).
    public func falsify(_ initial: Interval, limit: Int? = nil) -> ([[Double]], Int)? {
        guard !system.unsafe.isEmpty else { return nil }
        var starts: [[Double]] = [initial.center]
        let n = system.stateCount
        if n <= 8 {
            for mask in 0..<(1 << n) {
                starts.append((0..<n).map { (mask >> $0) & 1 == 1 ? initial.upper[$0] : initial.lower[$0] })
            }
        }
        var rng = SplitMix64(seed: 0x0DDBA11)
        let count = min(loop.ode == nil ? samples : min(samples, Self.flowSamples), limit ?? .max)
        for _ in 0..<count {
            starts.append((0..<n).map { initial.lower[$0] + rng.unit() * (initial.upper[$0] - initial.lower[$0]) })
        }
        for x0 in starts {
            var w: [Double] = []
            if let d = system.disturbance {
                for _ in 0..<horizon {
                    w += d.lower.indices.map { d.lower[$0] + rng.unit() * (d.upper[$0] - d.lower[$0]) }
                }
            }
            if loop.ode != nil {
                if let hit = flowWitness(x0, disturbances: w) { return hit }
                continue
            }
            let traj = loop.simulate(x0, disturbances: w)
            for (t, x) in traj.enumerated() where inUnsafe(x, at: t) { return (traj, t) }
        }
        return nil
    }

    /// Random starts of the falsification run between the quick rung and the iterative ones: enough to
    /// catch a state well inside an unsafe region at a fraction of a solve; the full run comes after.
    static let earlyFalsificationSamples = 32
    /// An ODE loop's starts are adaptive-integrator runs (thousands of field evaluations each): before the
    /// solver only the centre and corners, so that the pass cannot eat the budget a proof needs.
    var earlyFalsificationLimit: Int { loop.ode == nil ? Self.earlyFalsificationSamples : 0 }
    /// Random starts simulated by the adaptive integrator (each costs thousands of field evaluations).
    static let flowSamples = 100
    /// A witness must be inside an unsafe set by its error estimate times this, plus `witnessFloor`.
    static let witnessSafety = 10.0, witnessFloor = 1e-9

    /// An ODE trajectory that enters an unsafe set deeper than its error estimate:
    /// at a sample (every mode) or at an integrator point inside the period (`interval`).
    func flowWitness(_ x0: [Double], disturbances w: [Double]) -> ([[Double]], Int)? {
        var inside: Int? = nil
        var deepest: [Int: Double] = [:]
        let run = loop.simulateFlow(x0, disturbances: w) { t, x in
            for set in system.unsafe where set.mode == .interval && set.applies(at: t + 1) {
                deepest[t + 1] = max(deepest[t + 1] ?? -.infinity, Self.depth(x, in: set))
            }
        }
        let need = Self.witnessSafety * run.error + Self.witnessFloor
        for (t, x) in run.states.enumerated() {
            let depth = system.unsafe.filter { $0.applies(at: t) }.map { Self.depth(x, in: $0) }.max() ?? -.infinity
            if max(depth, deepest[t] ?? -.infinity) > need { inside = t; break }
        }
        return inside.map { (run.states, $0) }
    }

    /// How far x is inside {H x ≤ h}: min over rows of (h_r − H_r x)/‖H_r‖ (negative outside).
    static func depth(_ x: [Double], in set: SystemDescription.UnsafeSet) -> Double {
        set.h.indices.map { r in
            let norm = set.h[r].reduce(0) { $0 + $1 * $1 }.squareRoot()
            return (set.bound[r] - zip(set.h[r], x).reduce(0) { $0 + $1.0 * $1.1 }) / norm
        }.min() ?? -.infinity
    }

    public func inUnsafe(_ x: [Double], at t: Int? = nil) -> Bool {
        system.unsafe.contains { set in
            guard t.map({ set.applies(at: $0) }) ?? true else { return false }
            return set.h.indices.allSatisfy { r in zip(set.h[r], x).reduce(0) { $0 + $1.0 * $1.1 } <= set.bound[r] }
        }
    }
}
