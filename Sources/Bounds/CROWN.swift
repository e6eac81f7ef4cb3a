import LinearAlgebra
import Network

/// Intermediate (pre-activation) bounds for every node of a graph.
public enum IntermediateBounds {
    /// IBP for every node, then CROWN for each pre-activation node in
    /// topological order (each using the bounds found before it), intersected.
    public static func crown(_ graph: Graph, box: Interval, dual: DualBound? = nil) -> [Interval] {
        let evaluator = dual ?? DualBound(graph: graph)
        var bounds = IBP.bounds(graph, box: box)
        let pre = Set(graph.preActivationNodes)
        for (w, node) in graph.nodes.enumerated() {
            switch node.operation {
            case .input:
                continue
            case .relu(let u):
                bounds[w] = bounds[u].rectified
            case .affine(let a):
                // Refresh IBP from the (possibly tightened) inputs.
                bounds[w] = IBP.affine(a, bounds)
                if pre.contains(w) {
                    bounds[w] = bounds[w].intersected(with: crownBounds(of: w, box: box, bounds: bounds, evaluator: evaluator))
                }
            }
        }
        return bounds
    }

    /// CROWN bounds of one node: 2n objectives (±e_i) in one backward pass.
    public static func crownBounds(of w: Int, box: Interval, bounds: [Interval], evaluator: DualBound) -> Interval {
        let n = evaluator.graph.nodes[w].size
        var c = Matrix(rows: n, cols: 2 * n)
        for i in 0..<n {
            c[i, i] = 1
            c[i, n + i] = -1
        }
        let r = evaluator.evaluate(target: w, objectives: c, box: box, bounds: bounds, rule: .crown)
        return Interval(lower: Array(r.lower[0..<n]), upper: r.lower[n...].map { -$0 })
    }

    /// Count of neurons whose bounds straddle zero.
    public static func unstableCount(_ graph: Graph, _ bounds: [Interval]) -> Int {
        graph.preActivationNodes.reduce(0) { total, w in
            total + zip(bounds[w].lower, bounds[w].upper).filter { $0 < 0 && $1 > 0 }.count
        }
    }
}
