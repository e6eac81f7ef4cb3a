import Foundation
import LinearAlgebra
import Network

/// α-CROWN on the objective rows: the lower slope α of each unstable ReLU, one per neuron and objective
/// column, raised by projected gradient steps on CROWN's bound, the intermediate bounds held fixed. Every
/// iterate is a valid bound (ReLU(z) ≥ αz for every α in [0, 1], and the dual evaluation certifies each one
/// with its rounding margin), so the best value seen per column is kept.
///
/// The gradient needs no automatic differentiation: with the minimising input x* fixed, the bound's
/// derivative in α_j is g_j·ẑ_j, where g_j is the coefficient CROWN put on the neuron's output and ẑ_j the
/// neuron's pre-activation in the relaxed network (each ReLU replaced by the line the bound chose) at x*.
public struct AlphaCROWN: Sendable {
    public let dual: DualBound
    /// Each ReLU's (pre-activation node, activation node); nil when the graph has other nonlinear nodes
    /// (their lines are not parametrised here: the optimiser then leaves CROWN's bound as it is).
    let relus: [(w: Int, r: Int)]?
    public var iterations: Int
    /// The first sign step on α, large enough to cross from CROWN's 0 or 1 to the interior in a few steps,
    /// and the step below which a column has settled (all settled: stop early).
    static let firstStep = 0.5
    static let lastStep = 0.005
    /// A column whose bound rose takes a longer step next (with the halving on a fall, an adaptive step).
    static let growth = 1.5

    public init(dual: DualBound, iterations: Int) {
        self.dual = dual
        self.iterations = iterations
        var relus: [(Int, Int)] = []
        var onlyReLU = true
        for (v, node) in dual.graph.nodes.enumerated() {
            switch node.operation {
            case .elementwise(let op, let w): if op is ReLU { relus.append((w, v)) } else { onlyReLU = false }
            case .product: onlyReLU = false
            case .input, .affine: break
            }
        }
        self.relus = onlyReLU ? relus : nil
    }

    public struct Result: Sendable {
        /// The best certified lower bound per column over the iterates.
        public var lower: [Double]
        /// The slopes reached (per pre-activation node, n × K): a child domain's start.
        public var slopes: [Int: Matrix]
        public var iterations: Int
    }

    /// Raises CROWN's bound of min c_kᵀ y_target over `bounds`, from `start` slopes (CROWN's own where nil),
    /// stopping early once some column's bound exceeds its `targets` entry (one proven row settles a case).
    public func optimise(target: Int, objectives: Matrix, box: Interval, bounds: [Interval],
                         relaxations: Relaxations, start: [Int: Matrix]?, targets: [Double],
                         scratch: inout DualScratch) -> Result? {
        guard let relus, iterations > 0 else { return nil }
        let k = objectives.cols
        var alpha = initialSlopes(relus, relaxations, columns: k)
        // A start of another shape (another case's rows) is not used; CROWN's slopes stand in for it.
        for (w, a) in start ?? [:] where alpha[w].map({ $0.rows == a.rows && $0.cols == a.cols }) == true {
            alpha[w] = a
        }
        var bestAlpha = alpha
        var best = [Double](repeating: -.infinity, count: k)
        var step = [Double](repeating: Self.firstStep, count: k)
        for t in 0..<iterations {
            let r = dual.evaluate(target: target, objectives: objectives, box: box, bounds: bounds,
                                  rule: .lowerSlopes(alpha), keepActivationCoefficients: true,
                                  relaxations: relaxations, stops: [], scratch: &scratch)
            // A column that got worse goes back to its best slopes with half the step (a backtracking line
            // search per column: sign steps alone overshoot and oscillate near the optimum).
            var moving = [Bool](repeating: true, count: k)
            for c in 0..<k {
                if r.lower[c] > best[c] {
                    if best[c] > -.infinity { step[c] = min(step[c] * Self.growth, 1) }
                    best[c] = r.lower[c]
                    Self.copyColumn(c, from: alpha, to: &bestAlpha)
                } else if r.lower[c] < best[c] {
                    Self.copyColumn(c, from: bestAlpha, to: &alpha)
                    step[c] /= 2
                    moving[c] = false
                }
            }
            if zip(best, targets).contains(where: { $0 > $1 }) || t == iterations - 1
                || step.allSatisfy({ $0 < Self.lastStep }) {
                return Result(lower: best, slopes: bestAlpha, iterations: t + 1)
            }
            let z = relaxedValues(at: minimiser(r.inputCoefficients, box), alpha, r.activationCoefficients, bounds)
            ascend(&alpha, z, r.activationCoefficients, bounds, step: step, moving: moving)
        }
        return Result(lower: best, slopes: bestAlpha, iterations: iterations)
    }

    static func copyColumn(_ c: Int, from source: [Int: Matrix], to target: inout [Int: Matrix]) {
        for (w, m) in source {
            guard var t = target[w], t.rows == m.rows, t.cols == m.cols else { continue }
            for i in 0..<m.rows { t.data[i + c * m.rows] = m.data[i + c * m.rows] }
            target[w] = t
        }
    }

    /// CROWN's lower slope for each neuron (the longer edge of the triangle), in every column.
    func initialSlopes(_ relus: [(w: Int, r: Int)], _ sets: Relaxations, columns k: Int) -> [Int: Matrix] {
        var alpha: [Int: Matrix] = [:]
        for (w, _) in relus {
            let n = dual.graph.nodes[w].size
            var a = Matrix(rows: n, cols: k)
            if let set = sets[w] {
                for c in 0..<k { for i in 0..<n { a.data[i + c * n] = set[i].crownLowerSlope } }
            }
            alpha[w] = a
        }
        return alpha
    }

    /// The input minimising the bound's input term per column (the box's middle where a coefficient is 0).
    func minimiser(_ coefficients: Matrix, _ box: Interval) -> Matrix {
        var x = Matrix(rows: coefficients.rows, cols: coefficients.cols)
        for c in 0..<x.cols {
            for i in 0..<x.rows {
                let g = coefficients[i, c]
                x[i, c] = g > 0 ? box.lower[i] : (g < 0 ? box.upper[i] : (box.lower[i] + box.upper[i]) / 2)
            }
        }
        return x
    }

    /// Pre-activation values of the relaxed network at x per column: each unstable ReLU is its lower line
    /// αz where its output's coefficient g ≥ 0, else its chord; stable ones are exact.
    func relaxedValues(at x: Matrix, _ alpha: [Int: Matrix], _ g: [Int: Matrix], _ bounds: [Interval]) -> [Matrix?] {
        let graph = dual.graph
        let k = x.cols
        var values = [Matrix?](repeating: nil, count: graph.nodes.count)
        for (v, node) in graph.nodes.enumerated() {
            switch node.operation {
            case .input:
                values[v] = x
            case .affine(let a):
                var z = Matrix(rows: node.size, cols: k)
                for c in 0..<k { for i in 0..<node.size { z.data[i + c * node.size] = a.bias[i] } }
                for t in a.terms { if let xin = values[t.input] { t.map.apply(xin, into: &z, beta: 1) } }
                values[v] = z
            case .elementwise(_, let w):
                guard let z = values[w] else { continue }
                values[v] = reluLines(z, alpha[w], g[v], bounds[w])
            case .product:
                continue   // excluded at init
            }
        }
        return values
    }

    /// One ReLU layer of the relaxed network.
    func reluLines(_ z: Matrix, _ alpha: Matrix?, _ g: Matrix?, _ b: Interval) -> Matrix {
        var y = z
        let n = z.rows
        for c in 0..<z.cols {
            for i in 0..<n {
                let idx = i + c * n
                let l = b.lower[i], u = b.upper[i]
                if l >= 0 { continue }
                if u <= 0 { y.data[idx] = 0; continue }
                if (g?.data[idx] ?? 0) >= 0 {
                    y.data[idx] = min(max(alpha?.data[idx] ?? 0, 0), 1) * z.data[idx]
                } else {
                    y.data[idx] = u * (z.data[idx] - l) / (u - l)
                }
            }
        }
        return y
    }

    /// A projected gradient step per column, the gradient g_j·ẑ_j (where the lower line is used) scaled so
    /// that the neuron with the steepest one moves by that column's `step`.
    func ascend(_ alpha: inout [Int: Matrix], _ z: [Matrix?], _ g: [Int: Matrix], _ bounds: [Interval],
                step: [Double], moving: [Bool]) {
        guard let relus else { return }
        var gradients: [Int: Matrix] = [:]
        var steepest = [Double](repeating: 0, count: step.count)
        for (w, r) in relus {
            guard let zw = z[w], let gr = g[r] else { continue }
            var d = Matrix(rows: zw.rows, cols: zw.cols)
            for c in 0..<zw.cols where moving[c] {
                for i in 0..<zw.rows where bounds[w].lower[i] < 0 && bounds[w].upper[i] > 0 {
                    let idx = i + c * zw.rows
                    let gradient = gr.data[idx] * zw.data[idx]
                    guard gr.data[idx] > 0, gradient.isFinite else { continue }
                    d.data[idx] = gradient
                    steepest[c] = max(steepest[c], abs(gradient))
                }
            }
            gradients[w] = d
        }
        for (w, d) in gradients {
            guard var a = alpha[w] else { continue }
            for c in 0..<a.cols where moving[c] && steepest[c] > 0 {
                let scale = step[c] / steepest[c]
                guard scale.isFinite else { continue }   // a subnormal steepest gradient: no step
                for i in 0..<a.rows {
                    let idx = i + c * a.rows
                    a.data[idx] = min(max(a.data[idx] + scale * d.data[idx], 0), 1)
                }
            }
            alpha[w] = a
        }
    }
}
