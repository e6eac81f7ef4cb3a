import Bounds
import LinearAlgebra
import Network

/// Points of the box with their forward passes. A certified bound holds for the
/// exact value; the computed value differs from it by rounding, so each value
/// carries a running error bound and a check fails only past it.
struct Probes {
    var points: [[Double]]
    /// Per point, the value of every node.
    var values: [[[Double]]]
    /// Per point and node, a bound on |computed − exact|.
    var errors: [[[Double]]]

    init(graph: Graph, box: Interval, seed: UInt64) {
        points = Self.points(box: box, seed: seed)
        values = []
        errors = []
        for x in points {
            let (v, e) = Self.forward(graph, x)
            values.append(v)
            errors.append(e)
        }
    }

    /// The centre, the two extreme corners, two mixed corners and four random points.
    static func points(box: Interval, seed: UInt64) -> [[Double]] {
        let n = box.count
        var rng = SplitMix64(seed: seed)
        var result = [box.center, box.lower, box.upper]
        for _ in 0..<2 {
            result.append((0..<n).map { rng.next() & 1 == 0 ? box.lower[$0] : box.upper[$0] })
        }
        for _ in 0..<4 {
            // Clamped: lower + t·width can round past upper.
            result.append((0..<n).map { i in
                min(max(box.lower[i] + rng.unit() * (box.upper[i] - box.lower[i]), box.lower[i]), box.upper[i])
            })
        }
        return result
    }

    /// The forward pass and, per node, a bound on its rounding error: an affine
    /// node adds γ(terms)·(|b| + Σ|W||x|) to the propagated Σ|W|·err (Higham §3.1;
    /// Rounding.gamma is twice the classical constant); a ReLU passes it on.
    static func forward(_ graph: Graph, _ x: [Double]) -> ([[Double]], [[Double]]) {
        let values = graph.evaluateAll(x)
        var errors = [[Double]](repeating: [], count: graph.nodes.count)
        for (v, node) in graph.nodes.enumerated() {
            switch node.operation {
            case .input:
                errors[v] = [Double](repeating: 0, count: node.size)
            case .elementwise(_, let u):
                errors[v] = errors[u]
            case .product(let u):
                // x̂ŷ against xy: |x̂|e_y + |ŷ|e_x + e_x e_y, plus the product's own rounding.
                let n = node.size, x = values[u], e = errors[u]
                errors[v] = (0..<n).map { i in
                    abs(x[i]) * e[n + i] + abs(x[n + i]) * e[i] + e[i] * e[n + i]
                        + Rounding.gamma(1) * abs(x[i] * x[n + i]) + Double.leastNonzeroMagnitude
                }
            case .affine(let a):
                var magnitude = a.bias.map { abs($0) }
                var propagated = [Double](repeating: 0, count: node.size)
                var terms = 1
                for t in a.terms {
                    let absW = t.map.magnitude
                    absW.apply(values[t.input].map { abs($0) }, into: &magnitude, beta: 1)
                    absW.apply(errors[t.input], into: &propagated, beta: 1)
                    terms += t.map.cols
                }
                let g = Rounding.gamma(terms + 2)
                errors[v] = zip(magnitude, propagated).map { g * $0 + (1 + g) * $1 + Double.leastNonzeroMagnitude }
            }
        }
        return (values, errors)
    }

    /// Traps unless every node's bounds are ordered and hold every probe value.
    func checkNodes(_ bounds: [Interval], _ what: String) {
        for (v, b) in bounds.enumerated() {
            check(b, node: v, what)
        }
    }

    /// Traps unless `b` is ordered and holds node v's value at every probe point.
    func check(_ b: Interval, node v: Int, _ what: String) {
        for i in 0..<b.count where !(b.lower[i] <= b.upper[i]) {
            fatalError("FuzzSolver: \(what): node \(v)[\(i)] has lower \(b.lower[i]) > upper \(b.upper[i])")
        }
        for (p, x) in points.enumerated() {
            for i in 0..<b.count {
                let y = values[p][v][i], e = errors[p][v][i]
                if y + e < b.lower[i] || y - e > b.upper[i] {
                    fatalError("FuzzSolver: \(what): node \(v)[\(i)] at \(x) is \(y) (±\(e)), "
                        + "outside the certified [\(b.lower[i]), \(b.upper[i])]")
                }
            }
        }
    }

    /// Output bounds from lower bounds of ±e_i (columns 0..<n and n..<2n).
    func checkOutput(_ lower: [Double], graph: Graph, _ what: String) {
        let n = graph.outputSize
        let b = Interval(lower: Array(lower[0..<n]), upper: lower[n...].map { -$0 })
        check(b, node: graph.output, what)
    }

    /// Whether some probe point, rounding included, certainly has output[j] ≤ bound.
    func attains(output j: Int, atMost bound: Double, graph: Graph) -> Bool {
        values.indices.contains { p in values[p][graph.output][j] + errors[p][graph.output][j] < bound }
    }
}
