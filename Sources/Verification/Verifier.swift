import Bounds
import Dispatch
import LinearAlgebra
import Network
import Splitting

/// VNN-COMP answers: the first word a tool prints.
public enum VerificationAnswer: Sendable, Equatable {
    /// A concrete input that violates the property, checked by a forward pass.
    case sat(input: [Double], output: [Double])
    /// Every case of the violation is proven impossible.
    case unsat
    /// Not decided, with time left: a box became too small to split, a domain stayed open with every
    /// neuron fixed, or the open domains reached `maximumDomains`.
    case unknown
    case timeout

    public var word: String {
        switch self {
        case .sat: return "sat"
        case .unsat: return "unsat"
        case .unknown: return "unknown"
        case .timeout: return "timeout"
        }
    }
}

public struct VerificationReport: Sendable {
    public var answer: VerificationAnswer
    public var boxesBounded = 0
    public var boxesProven = 0
    public var splits = 0
    /// Branch and bound on ReLU splits: domains bounded, proven (with empty ones), neurons split, and
    /// the most domains open at once.
    public var domainsBounded = 0
    public var domainsProven = 0
    public var reluSplits = 0
    public var largestOpenList = 0
    /// α-CROWN: its iterations summed over domains, and the domains it proved that CROWN left open.
    public var slopeIterations = 0
    public var domainsProvenBySlopes = 0
    public var iterations = 0
    public var seconds = 0.0
}

/// Decides VNN-LIB properties: cheap falsification, then certified bounds
/// with input splitting (the coordinate of largest influence first), each
/// part warm-started from its parent's solver state.
public struct Verifier: Sendable {
    public let graph: Graph
    public var settings = Settings()
    public var intermediates: IntermediateMethod = .crown
    public var randomSamples = 256
    /// Input splits of one box before its part goes to ReLU splits instead.
    public var maximumDepth = 48
    /// Inputs up to which a case is decided by splitting the input box; wider ones by ReLU splits.
    public var inputSplitLimit = 5
    /// The share of the time limit the gradient attack may take before any bound (most `sat` answers
    /// on image networks come from it within a fraction of a second; the rest of the time proves).
    public var attackShare = 0.1
    public var attackLimit = 2.0
    /// Open domains of the ReLU branch and bound held at once (the memory cap: each holds every node's
    /// bounds, about 16 bytes per neuron, and its solver state).
    public var maximumDomains = 100_000
    /// ADMM iterations on a ReLU domain that α-CROWN leaves open (0: none). Off by default: measured on the
    /// benchmark set and the fixtures, α-CROWN alone needs up to 5× more domains than with ADMM after it,
    /// at a tenth of the cost each, and decides no fewer. A domain with every neuron fixed is still solved
    /// by ADMM (its LP is exact there; α-CROWN ignores the split constraints z ≥ 0 or z ≤ 0).
    public var domainIterations = 0
    /// α-CROWN iterations on a domain's rows before ADMM (0: none).
    public var slopeIterations = 20
    public var branchingRule = BranchingRule.babsr

    public init(graph: Graph) {
        self.graph = graph
    }

    /// Violation of one case at output y: max_j (a_j·y − b_j), strict rows
    /// counting as violated only when < 0. Negative (or zero for non-strict) means satisfied.
    static func violation(_ y: [Double], _ cons: [Property.Constraint]) -> Double {
        // An output that overflowed or is NaN proves nothing: never a counterexample.
        guard y.allSatisfy(\.isFinite) else { return .infinity }
        var worst = -Double.infinity
        for c in cons {
            var v = -c.bound
            for (a, yi) in zip(c.coefficients, y) { v += a * yi }
            // A strict row needs v < 0: treat v == 0 as violated by a hair.
            if c.strict && v >= 0 { v = max(v, Double.leastNormalMagnitude) }
            worst = max(worst, v)
        }
        return worst
    }

    /// Throws for settings out of range and for a property whose sizes are not the graph's (both checked
    /// before any work), and for a solver that cannot be set up.
    public func verify(_ property: Property, timeout: Double) throws(VerificationError) -> VerificationReport {
        do { try settings.validate() } catch { throw .solver(error) }
        guard timeout >= 0 && timeout <= Settings.maximumDeadline else {
            throw .solver(.invalidSetting(name: "timeout", value: "\(timeout)",
                                          requirement: "from 0 to \(Settings.maximumDeadline) seconds"))
        }
        try checkShape(property)
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(max(0, timeout) * 1e9)
        var report = VerificationReport(answer: .unsat)
        var undecided = false
        var timedOut = false
        // Falsify every case first: a counterexample anywhere answers sat.
        for d in property.disjuncts {
            if let cex = falsify(d, deadline: deadline), let y = confirmed(cex.0, property) {
                report.answer = .sat(input: cex.0, output: y)
                report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                return report
            }
        }
        let attackEnd = start + UInt64(min(timeout * attackShare, attackLimit) * 1e9)
        if let cex = attack(property, deadline: min(attackEnd, deadline)), let y = confirmed(cex.input, property) {
            report.answer = .sat(input: cex.input, output: y)
            report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return report
        }
        for d in property.disjuncts {
            let answer: VerificationAnswer
            do {
                answer = d.lower.count <= inputSplitLimit ? try prove(d, deadline: deadline, report: &report)
                    : branchAndBound(d, deadline: deadline, report: &report)
            } catch { throw .solver(error) }
            switch answer {
            case .unsat: continue
            case .sat(let x, _):
                guard let y = confirmed(x, property) else {
                    undecided = true
                    continue
                }
                report.answer = .sat(input: x, output: y)
                report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                return report
            case .timeout: timedOut = true
            case .unknown: undecided = true
            }
            if timedOut { break }
        }
        report.answer = timedOut ? .timeout : (undecided ? .unknown : .unsat)
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return report
    }

    /// The network's output at x when x is a counterexample: finite, inside some case's box, and violating
    /// that case's rows by a forward pass made here (every `sat` passes this, whatever found the point).
    func confirmed(_ x: [Double], _ property: Property) -> [Double]? {
        guard x.count == graph.inputSize, x.allSatisfy(\.isFinite) else { return nil }
        let y = graph.evaluate(x)
        let holds = property.disjuncts.contains { d in
            x.indices.allSatisfy { d.lower[$0] <= x[$0] && x[$0] <= d.upper[$0] } && Self.violation(y, d.outputs) <= 0
        }
        return holds ? y : nil
    }

    /// Every case's box and output rows must have the graph's sizes, and its box must be ordered and
    /// finite (the parser ensures it for files; this is for properties built in code).
    func checkShape(_ property: Property) throws(VerificationError) {
        guard property.inputCount == graph.inputSize, property.outputCount == graph.outputSize else {
            throw .shape(property: (property.inputCount, property.outputCount),
                         graph: (graph.inputSize, graph.outputSize))
        }
        for (k, d) in property.disjuncts.enumerated() {
            guard d.lower.count == graph.inputSize, d.upper.count == graph.inputSize,
                  d.outputs.allSatisfy({ $0.coefficients.count == graph.outputSize && $0.bound.isFinite
                      && $0.coefficients.allSatisfy(\.isFinite) }),
                  zip(d.lower, d.upper).allSatisfy({ $0.isFinite && $1.isFinite && $0 <= $1 }) else {
                throw .malformedCase(index: k)
            }
        }
    }

    /// The gradient attack on the cases, those sharing a box together (one descent on their least
    /// violation), from each box's centre first.
    func attack(_ property: Property, deadline: UInt64) -> (input: [Double], output: [Double])? {
        var groups: [(lower: [Double], upper: [Double], cases: [[Property.Constraint]])] = []
        for d in property.disjuncts {
            if let g = groups.firstIndex(where: { $0.lower == d.lower && $0.upper == d.upper }) {
                groups[g].cases.append(d.outputs)
            } else {
                groups.append((d.lower, d.upper, [d.outputs]))
            }
        }
        let pgd = GradientAttack(graph: graph)
        for g in groups {
            let centre = zip(g.lower, g.upper).map { ($0 + $1) / 2 }
            if let found = pgd.run(lower: g.lower, upper: g.upper, cases: g.cases, starts: [centre],
                                   deadline: deadline) {
                return found
            }
        }
        return nil
    }

    /// One case with more inputs than input splitting handles: branch and bound on ReLU splits (CROWN
    /// bounds only when the solver cannot be set up: still sound, only looser).
    func branchAndBound(_ d: Property.Disjunct, deadline: UInt64,
                        report: inout VerificationReport) -> VerificationAnswer {
        if d.outputs.isEmpty {
            let x = zip(d.lower, d.upper).map { ($0 + $1) / 2 }
            return .sat(input: x, output: graph.evaluate(x))
        }
        let box = Interval(lower: d.lower, upper: d.upper)
        let solver = try? SplittingSolver(graph: graph, scaling: IntermediateBounds.crown(graph, box: box))
        let bab = ReLUBranchAndBound(graph: graph, solver: solver, settings: settings,
                                     maximumDomains: maximumDomains, solverIterations: domainIterations,
                                     slopeIterations: slopeIterations, rule: branchingRule)
        return bab.prove(d, deadline: deadline, report: &report)
    }

    /// Inputs up to which the pattern search runs.
    static let patternSearchInputs = 10

    /// Corners (few inputs), centre, random points, then a pattern search from the best ones.
    func falsify(_ d: Property.Disjunct, deadline: UInt64, sampleCount: Int? = nil) -> ([Double], [Double])? {
        let n = d.lower.count
        var rng = SplitMix64(seed: 0x5EED)
        var candidates: [[Double]] = [zip(d.lower, d.upper).map { ($0 + $1) / 2 }]
        if n <= 10 {
            for mask in 0..<(1 << n) {
                candidates.append((0..<n).map { (mask >> $0) & 1 == 1 ? d.upper[$0] : d.lower[$0] })
            }
        }
        for _ in 0..<(sampleCount ?? randomSamples) {
            candidates.append((0..<n).map { d.lower[$0] + rng.unit() * (d.upper[$0] - d.lower[$0]) })
        }
        var scored: [(Double, [Double])] = []
        for x in candidates {
            let y = graph.evaluate(x)
            let v = Self.violation(y, d.outputs)
            if v <= 0 { return (x, y) }
            scored.append((v, x))
        }
        scored.sort { $0.0 < $1.0 }
        // Pattern search on the violation from the three best points; on wide inputs its 2n evaluations
        // per move take seconds (measured: 5 s on a 64-input, 4×256 network), and the gradient attack
        // that follows does better.
        for (score, x0) in scored.prefix(n <= Self.patternSearchInputs ? 3 : 0) {
            var x = x0
            var best = score
            var step = zip(d.lower, d.upper).map { ($1 - $0) / 4 }
            for _ in 0..<60 {
                if DispatchTime.now().uptimeNanoseconds >= deadline { return nil }
                var improved = false
                for i in 0..<n where step[i] > 0 {
                    for sign in [1.0, -1.0] {
                        var t = x
                        t[i] = min(max(t[i] + sign * step[i], d.lower[i]), d.upper[i])
                        let y = graph.evaluate(t)
                        let v = Self.violation(y, d.outputs)
                        if v <= 0 { return (t, y) }
                        if v < best {
                            best = v
                            x = t
                            improved = true
                        }
                    }
                }
                if !improved {
                    step = step.map { $0 / 2 }
                    if step.allSatisfy({ $0 < 1e-9 }) { break }
                }
            }
        }
        return nil
    }

    struct Part {
        var lower: [Double]
        var upper: [Double]
        var depth: Int
        var workspace: Workspace?
    }

    func prove(_ d: Property.Disjunct, deadline: UInt64,
               report: inout VerificationReport) throws(SplittingError) -> VerificationAnswer {
        let m = d.outputs.count
        if m == 0 {
            let x = zip(d.lower, d.upper).map { ($0 + $1) / 2 }
            return .sat(input: x, output: graph.evaluate(x))
        }
        let root = Interval(lower: d.lower, upper: d.upper)
        guard let solver = try? SplittingSolver(graph: graph, scaling: IntermediateBounds.crown(graph, box: root)) else {
            return .unknown
        }
        let c = ReLUBranchAndBound.objectives(d, graph)
        var queue = [Part(lower: d.lower, upper: d.upper, depth: 0, workspace: nil)]
        var undecided = false
        let alpha = AlphaCROWN(dual: solver.dual, iterations: slopeIterations)
        var scratch = DualScratch()
        while let part = queue.popLast() {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline { return .timeout }
            var s = settings
            s.deadline = Double(deadline - now) / 1e9
            let box = Interval(lower: part.lower, upper: part.upper)
            var wss: [Int: Workspace] = [:]
            var stats = IntermediateStatistics()
            let bounds = try solver.intermediateBounds(box: box, method: intermediates, workspaces: &wss,
                                                   settings: s, statistics: &stats)
            report.boxesBounded += 1
            report.iterations += stats.iterations
            // CROWN first: when it proves a row, the part needs no solve. Its sets serve α-CROWN too.
            let sets = Relaxations(graph: graph, bounds: bounds)
            let crown = solver.dual.evaluate(target: graph.output, objectives: c, box: box, bounds: bounds,
                                             rule: .crown, keepActivationCoefficients: false, relaxations: sets,
                                             stops: [], scratch: &scratch)
            var (gap, closest) = ReLUBranchAndBound.bestGap(crown.lower, d)
            if gap <= 0, let a = alpha.optimise(target: graph.output, objectives: c, box: box, bounds: bounds,
                                                relaxations: sets, start: nil,
                                                targets: d.outputs.map(\.bound), scratch: &scratch) {
                report.slopeIterations += a.iterations
                (gap, closest) = ReLUBranchAndBound.bestGap(zip(crown.lower, a.lower).map(max), d)
            }
            if gap > 0 {
                report.boxesProven += 1
                continue
            }
            var ws = part.workspace ?? solver.makeWorkspace(target: graph.output, columns: m)
            s.targets = d.outputs.map { $0.bound }
            let sol = try solver.solve(objectives: c, box: box, bounds: bounds, workspace: &ws, settings: s)
            report.iterations += sol.iterations
            (gap, closest) = ReLUBranchAndBound.bestGap(sol.lower, d)
            // Proven when one row cannot hold anywhere in the part.
            if gap > 0 {
                report.boxesProven += 1
                continue
            }
            let sub = Property.Disjunct(lower: part.lower, upper: part.upper, outputs: d.outputs)
            if let cex = falsify(sub, deadline: deadline, sampleCount: 16) { return .sat(input: cex.0, output: cex.1) }
            if part.depth >= maximumDepth {
                // Input splits have done what they can: ReLU splits on the part, with the time left.
                switch branchAndBound(sub, deadline: deadline, report: &report) {
                case .unsat: report.boxesProven += 1
                case .sat(let x, let y): return .sat(input: x, output: y)
                case .timeout: return .timeout
                case .unknown: undecided = true
                }
                continue
            }
            // Split the coordinate with the largest influence on the closest row.
            var axis = -1
            var score = -1.0
            for i in 0..<part.lower.count {
                let w = part.upper[i] - part.lower[i]
                let sc = abs(crown.inputCoefficients[i, closest]) * w + 1e-12 * w
                if w > 0 && sc > score { score = sc; axis = i }
            }
            guard axis >= 0 else {
                undecided = true
                continue
            }
            let mid = (part.lower[axis] + part.upper[axis]) / 2
            var left = part, right = part
            left.upper[axis] = mid
            right.lower[axis] = mid
            left.depth += 1
            right.depth += 1
            left.workspace = ws
            right.workspace = ws
            report.splits += 1
            queue.append(left)
            queue.append(right)
        }
        return undecided ? .unknown : .unsat
    }
}
