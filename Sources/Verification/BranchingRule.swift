import Bounds
import LinearAlgebra
import Network

/// BaBSR's branching score (Bunel et al., 2020), read from the CROWN pass that bounded the domain. An
/// unstable ReLU whose output carries a negative coefficient g in the bound is replaced there by its
/// chord, whose intercept −l·u/(u − l) costs |g|·(−l·u/(u − l)) of the bound; either split removes that
/// cost (each child's set is a segment through the origin). The neuron costing most is split. When no
/// chord is used, the neuron whose lower edge is longest against its coefficient is taken instead.
extension ReLUBranchAndBound {
    func branchingNeuron(_ domain: Domain, _ coefficients: [Int: Matrix], column: Int) -> ReLUSplit? {
        var best: (score: Double, split: ReLUSplit)? = nil
        var fallback: (score: Double, split: ReLUSplit)? = nil
        for (w, r) in reluLayers {
            let b = domain.bounds[w]
            let g = coefficients[r]
            for i in 0..<b.count {
                let l = b.lower[i], u = b.upper[i]
                guard l < 0 && u > 0 && l.isFinite && u.isFinite else { continue }
                let gi = g.map { $0[i, column] } ?? 0
                let split = ReLUSplit(node: w, neuron: i, active: true)
                let chord = max(-gi, 0) * (-l * u / (u - l))
                if chord > 0 && chord > (best?.score ?? 0) { best = (chord, split) }
                let edge = abs(gi) * min(u, -l)
                if fallback.map({ edge > $0.score }) ?? true { fallback = (edge, split) }
            }
        }
        return best?.split ?? fallback?.split
    }

    /// Each ReLU's pre-activation node with its activation node, in graph order.
    static func reluLayers(_ graph: Graph) -> [(Int, Int)] {
        graph.activationOf.compactMap { w, r in
            graph.nodes[r].operation.elementwise.map { $0.op is ReLU } == true ? (w, r) : nil
        }.sorted { $0.0 < $1.0 }
    }
}
