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
    var solver: SplittingSolver?
    var intermediateWorkspaces: [Int: Workspace] = [:]
    var stepWorkspaces: [Int: Workspace] = [:]
    /// Recursive strategy: one-step loop and per-step solver state.
    let stepLoop: ClosedLoop?
    var stepSolvers: [Int: SplittingSolver] = [:]
    var recursiveIntermediates: [Int: [Int: Workspace]] = [:]

    public init(system: SystemDescription, horizon: Int? = nil, strategy: SystemDescription.Strategy? = nil,
                intermediates: IntermediateMethod? = nil) throws {
        self.system = system
        self.horizon = horizon ?? system.horizon
        self.strategy = strategy ?? system.strategy
        self.intermediates = intermediates ?? system.intermediates
        loop = try ClosedLoop(system, steps: self.horizon)
        stepLoop = self.strategy == .recursive ? try ClosedLoop(system, steps: 1) : nil
        // IBP's loose triangles leave ADMM circling just above the tolerance (measured on
        // the double integrator: 47,400 iterations for one tube); the relaxation is not
        // tight anyway, so its stalled objectives stop with their certified bounds.
        if self.intermediates == .ibp { settings.stallChecks = Self.ibpStallChecks }
    }

    /// Certificate checks without a tenth off the gap before an IBP-intermediate objective stops.
    public static let ibpStallChecks = 50

    /// Forgets every warm state (the next run starts cold).
    public mutating func resetWarmState() {
        intermediateWorkspaces = [:]
        stepWorkspaces = [:]
        recursiveIntermediates = [:]
    }

    /// Objectives on x_t: −D rows (upper bounds of D x), then H rows (lower bounds of H x).
    func objectives() -> (Matrix, [[Double]], [Int]) {
        let rows = system.templateRows
        let n = system.stateCount
        let unsafeRows = system.unsafe.flatMap(\.h)
        var c = Matrix(rows: n, cols: rows.count + unsafeRows.count)
        for (j, r) in rows.enumerated() { for i in 0..<n { c[i, j] = -r[i] } }
        for (j, r) in unsafeRows.enumerated() { for i in 0..<n { c[i, rows.count + j] = r[i] } }
        return (c, rows, system.unsafe.map { $0.h.count })
    }

    func inputBox(_ x0: Interval, steps: Int) -> Interval {
        guard let w = system.disturbance else { return x0 }
        var lo = x0.lower, hi = x0.upper
        for _ in 0..<steps { lo += w.lower; hi += w.upper }
        return Interval(lower: lo, upper: hi)
    }

    /// `budget`: seconds for the whole tube. Past it every remaining solve stops
    /// at once with the best certified bound it has (at least CROWN's).
    public mutating func run(initial: Interval, budget: Double? = nil) throws -> ReachTube {
        let start = DispatchTime.now().uptimeNanoseconds
        let base = settings
        defer { settings = base }
        func remaining() -> Double? {
            guard let budget else { return base.deadline }
            return max(0, budget - Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let n = system.stateCount
        _ = try initial.validatedAsBox(dimension: n, name: "initial set")
        let (c, rows, unsafeCounts) = objectives()
        var steps: [ReachStep] = []
        var iterations = 0
        var warm = false
        // Step 0: the initial box itself, exactly.
        steps.append(step(t: 0, values: boxValues(initial, c), rows: rows, unsafeCounts: unsafeCounts))

        switch strategy {
        case .oneShot:
            let box = inputBox(initial, steps: horizon)
            if solver == nil {
                solver = try SplittingSolver(graph: loop.graph, scaling: IntermediateBounds.crown(loop.graph, box: box))
            }
            guard let solver else { throw SystemError("solver could not be built") }
            var stats = IntermediateStatistics()
            settings.deadline = remaining()
            let bounds = try solver.intermediateBounds(box: box, method: intermediates, workspaces: &intermediateWorkspaces,
                                                   settings: settings, statistics: &stats)
            iterations += stats.iterations
            for t in 1...horizon {
                let target = loop.stateNodes[t]
                var ws = stepWorkspaces[t] ?? solver.makeWorkspace(target: target, columns: c.cols)
                settings.deadline = remaining()
                let sol = try solver.solve(objectives: c, box: box, bounds: bounds, workspace: &ws, settings: settings)
                stepWorkspaces[t] = ws
                warm = warm || sol.warm
                iterations += sol.iterations
                steps.append(step(t: t, values: sol.lower, rows: rows, unsafeCounts: unsafeCounts))
            }
        case .recursive:
            guard let one = stepLoop else { throw SystemError("no one-step loop") }
            var current = initial
            for t in 1...horizon {
                let box = inputBox(current, steps: 1)
                if stepSolvers[t] == nil {
                    stepSolvers[t] = try SplittingSolver(graph: one.graph, scaling: IntermediateBounds.crown(one.graph, box: box))
                }
                guard let s = stepSolvers[t] else { throw SystemError("solver could not be built") }
                var wss = recursiveIntermediates[t] ?? [:]
                var stats = IntermediateStatistics()
                settings.deadline = remaining()
                let bounds = try s.intermediateBounds(box: box, method: intermediates, workspaces: &wss,
                                                  settings: settings, statistics: &stats)
                recursiveIntermediates[t] = wss
                var ws = stepWorkspaces[t] ?? s.makeWorkspace(target: one.stateNodes[1], columns: c.cols)
                settings.deadline = remaining()
                let sol = try s.solve(objectives: c, box: box, bounds: bounds, workspace: &ws, settings: settings)
                stepWorkspaces[t] = ws
                warm = warm || sol.warm
                iterations += sol.iterations + stats.iterations
                let st = step(t: t, values: sol.lower, rows: rows, unsafeCounts: unsafeCounts)
                steps.append(st)
                current = Interval(lower: st.lower, upper: st.upper)
            }
        }

        // Verdict: falsification first (a real trajectory beats any bound). A tube
        // certified safe at every step contains every trajectory, so no
        // simulation can enter an unsafe set: skip it then.
        var tube = ReachTube(steps: steps, verdict: .safe, firstUnsafeStep: nil, counterexample: nil,
                             iterations: iterations, seconds: 0, warm: warm)
        if !steps.allSatisfy(\.safe), let (trajectory, t) = falsify(initial) {
            tube.verdict = .unsafe
            tube.firstUnsafeStep = t
            tube.counterexample = trajectory
        } else if let first = steps.first(where: { !$0.safe }) {
            tube.verdict = .unknown
            tube.firstUnsafeStep = first.t
        }
        tube.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return tube
    }

    /// Exact lower bounds of each objective column over a box (for step 0).
    func boxValues(_ box: Interval, _ c: Matrix) -> [Double] {
        (0..<c.cols).map { j in
            var v = 0.0, mag = 0.0
            for i in 0..<c.rows {
                let a = c[i, j]
                let t = a >= 0 ? a * box.lower[i] : a * box.upper[i]
                v += t
                mag += abs(t)
            }
            return v - Rounding.gamma(c.rows) * mag
        }
    }

    func step(t: Int, values: [Double], rows: [[Double]], unsafeCounts: [Int]) -> ReachStep {
        let n = system.stateCount
        let d = (0..<rows.count).map { -values[$0] }
        var lower = [Double](repeating: -.infinity, count: n)
        var upper = [Double](repeating: .infinity, count: n)
        for (j, r) in rows.enumerated() {
            if let i = r.firstIndex(where: { $0 != 0 }), r.filter({ $0 != 0 }).count == 1 {
                if r[i] > 0 { upper[i] = min(upper[i], d[j] / r[i]) } else { lower[i] = max(lower[i], -d[j] / -r[i]) }
            }
        }
        var offset = rows.count
        var unsafeLower: [[Double]] = []
        var margin: Double? = nil
        var safe = true
        for (k, count) in unsafeCounts.enumerated() {
            let lows = Array(values[offset..<(offset + count)])
            unsafeLower.append(lows)
            offset += count
            let set = system.unsafe[k]
            var best = -Double.infinity
            for r in 0..<count {
                let norm = set.h[r].reduce(0) { $0 + $1 * $1 }.squareRoot()
                best = max(best, (lows[r] - set.bound[r]) / norm)
            }
            // Disjoint when one row's certified minimum exceeds its threshold.
            if !(best > 0) { safe = false }
            margin = min(margin ?? .infinity, best)
        }
        return ReachStep(t: t, directions: rows, bounds: d, lower: lower, upper: upper,
                         unsafeLower: unsafeLower, margin: margin, safe: safe)
    }

    /// Corners (few states), centre and random initial states, with random
    /// disturbances, simulated exactly; returns a trajectory entering an unsafe set.
    public func falsify(_ initial: Interval) -> ([[Double]], Int)? {
        guard !system.unsafe.isEmpty else { return nil }
        var starts: [[Double]] = [initial.center]
        let n = system.stateCount
        if n <= 8 { for mask in 0..<(1 << n) { starts.append((0..<n).map { (mask >> $0) & 1 == 1 ? initial.upper[$0] : initial.lower[$0] }) } }
        var rng = SplitMix64(seed: 0x0DDBA11)
        for _ in 0..<samples { starts.append((0..<n).map { initial.lower[$0] + rng.unit() * (initial.upper[$0] - initial.lower[$0]) }) }
        for x0 in starts {
            var w: [Double] = []
            if let d = system.disturbance {
                for _ in 0..<horizon { w += (0..<n).map { d.lower[$0] + rng.unit() * (d.upper[$0] - d.lower[$0]) } }
            }
            let traj = loop.simulate(x0, disturbances: w)
            for (t, x) in traj.enumerated() where inUnsafe(x) { return (traj, t) }
        }
        return nil
    }

    public func inUnsafe(_ x: [Double]) -> Bool {
        system.unsafe.contains { set in
            set.h.indices.allSatisfy { r in zip(set.h[r], x).reduce(0) { $0 + $1.0 * $1.1 } <= set.bound[r] }
        }
    }
}
