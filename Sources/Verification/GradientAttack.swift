import Dispatch
import Foundation
import LinearAlgebra
import Network

/// Projected gradient descent on a property's violation over one input box (PGD with sign steps, the
/// steepest descent of the box's ∞-norm): the violation is the least, over the cases, of the case's worst
/// row a·y − b; its gradient is the backward pass seeded with that row. Restarts begin at the given
/// points, then at random corners and random interior points. A point is returned only when a forward
/// pass shows it violates some case (`Verifier.violation` ≤ 0), so every `sat` it leads to is checked.
public struct GradientAttack: Sendable {
    public let graph: Graph
    public var restarts = 24
    public var steps = 50
    /// The first step, as a fraction of each coordinate's width: a quarter crosses a box in a few steps.
    public static let firstStep = 0.25
    /// The last step's fraction: by then the walk settles on a face or vertex of the box.
    public static let lastStep = 0.002
    /// Steps taken past the first violating point, to move away from the boundary (a checker evaluating
    /// the network in 32-bit floats must agree with ours).
    public static let extraSteps = 4

    public init(graph: Graph) {
        self.graph = graph
    }

    /// A counterexample in [lower, upper] violating one of `cases` (each read only for its rows), or nil.
    public func run(lower: [Double], upper: [Double], cases: [[Property.Constraint]], starts: [[Double]] = [],
                    seed: UInt64 = 0xA77AC4, deadline: UInt64) -> (input: [Double], output: [Double])? {
        guard !cases.isEmpty, lower.count == graph.inputSize else { return nil }
        var rng = SplitMix64(seed: seed)
        for r in 0..<(starts.count + restarts) {
            if DispatchTime.now().uptimeNanoseconds >= deadline { return nil }
            let x0 = r < starts.count ? starts[r] : startingPoint(r - starts.count, lower, upper, &rng)
            if let found = descend(from: x0, lower: lower, upper: upper, cases: cases, deadline: deadline) {
                return found
            }
        }
        return nil
    }

    /// Even restarts at a random corner (the ∞-norm's worst cases sit at corners for near-linear nets),
    /// odd ones uniformly inside.
    func startingPoint(_ r: Int, _ lower: [Double], _ upper: [Double], _ rng: inout SplitMix64) -> [Double] {
        (0..<lower.count).map { i in
            let t = r % 2 == 0 ? (rng.unit() < 0.5 ? 0 : 1) : rng.unit()
            return lower[i] + t * (upper[i] - lower[i])
        }
    }

    /// One PGD run: sign steps shrinking geometrically from `firstStep` to `lastStep` of the width.
    func descend(from x0: [Double], lower: [Double], upper: [Double], cases: [[Property.Constraint]],
                 deadline: UInt64) -> (input: [Double], output: [Double])? {
        var x = zip(x0, zip(lower, upper)).map { min(max($0, $1.0), $1.1) }
        let decay = steps > 1 ? pow(Self.lastStep / Self.firstStep, 1 / Double(steps - 1)) : 1
        var fraction = Self.firstStep
        var best: (value: Double, input: [Double], output: [Double])? = nil
        var extra = 0
        for _ in 0..<steps {
            if DispatchTime.now().uptimeNanoseconds >= deadline { break }
            var value = Double.infinity
            let (y, g) = graph.gradient(at: x) { y in
                let worst = worstCase(y, cases)
                value = worst.value
                return worst.row?.coefficients ?? [Double](repeating: 0, count: y.count)
            }
            if best.map({ value < $0.value }) ?? true { best = (value, x, y) }
            if value <= 0 {
                extra += 1
                if extra > Self.extraSteps { break }
            }
            for i in x.indices where g[i] != 0 {
                let step = fraction * (upper[i] - lower[i])
                x[i] = min(max(x[i] - (g[i] > 0 ? step : -step), lower[i]), upper[i])
            }
            fraction *= decay
        }
        // The last step's point has not been scored yet.
        let y = graph.evaluate(x)
        let last = worstCase(y, cases).value
        if best.map({ last < $0.value }) ?? true { best = (last, x, y) }
        guard let best, best.value <= 0 else { return nil }
        return (best.input, best.output)
    }

    /// The least violation over the cases, and that case's worst row (the gradient's seed).
    func worstCase(_ y: [Double], _ cases: [[Property.Constraint]]) -> (value: Double, row: Property.Constraint?) {
        var value = Double.infinity
        var row: Property.Constraint? = nil
        for rows in cases {
            var caseValue = -Double.infinity
            var caseRow: Property.Constraint? = nil
            for c in rows {
                let v = Verifier.violation(y, [c])
                if v > caseValue { caseValue = v; caseRow = c }
            }
            if caseValue < value { value = caseValue; row = caseRow }
        }
        return (value, row)
    }
}
