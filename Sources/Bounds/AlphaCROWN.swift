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
    /// The first and last sign steps on α (a geometric schedule): large enough to cross from CROWN's 0 or 1
    /// to the interior in a few steps, small at the end to settle (measured on the fixtures' domains).
    static let firstStep = 0.5
    static let lastStep = 0.02

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
        var alpha = start ?? initialSlopes(relus, relaxations, columns: objectives.cols)
        var best = [Double](repeating: -.infinity, count: objectives.cols)
        let decay = iterations > 1 ? pow(Self.lastStep / Self.firstStep, 1 / Double(iterations - 1)) : 1
        var step = Self.firstStep
        for t in 0..<iterations {
            let r = dual.evaluate(target: target, objectives: objectives, box: box, bounds: bounds,
                                  rule: .lowerSlopes(alpha), keepActivationCoefficients: true,
                                  relaxations: relaxations, stops: [], scratch: &scratch)
            best = zip(best, r.lower).map { max($0, $1) }
            if zip(best, targets).contains(where: { $0 > $1 }) || t == iterations - 1 {
                return Result(lower: best, slopes: alpha, iterations: t + 1)
            }
            let z = relaxedValues(at: minimiser(r.inputCoefficients, box), alpha, r.activationCoefficients, bounds)
            ascend(&alpha, z, r.activationCoefficients, bounds, step: step)
            step *= decay
        }
        return Result(lower: best, slopes: alpha, iterations: iterations)
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

    /// A projected sign step: α_j moves by `step` in the direction of g_j·ẑ_j where the lower line is used.
    func ascend(_ alpha: inout [Int: Matrix], _ z: [Matrix?], _ g: [Int: Matrix], _ bounds: [Interval],
                step: Double) {
        guard let relus else { return }
        for (w, r) in relus {
            guard var a = alpha[w], let zw = z[w], let gr = g[r] else { continue }
            let n = a.rows
            for c in 0..<a.cols {
                for i in 0..<n where bounds[w].lower[i] < 0 && bounds[w].upper[i] > 0 {
                    let idx = i + c * n
                    let gradient = gr.data[idx] * zw.data[idx]
                    guard gr.data[idx] > 0, gradient != 0, gradient.isFinite else { continue }
                    a.data[idx] = min(max(a.data[idx] + (gradient > 0 ? step : -step), 0), 1)
                }
            }
            alpha[w] = a
        }
    }
}
