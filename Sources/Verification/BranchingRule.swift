import Bounds
import LinearAlgebra
import Network

/// Which unstable ReLU a domain splits.
public enum BranchingRule: String, Sendable, CaseIterable {
    /// BaBSR's score (Bunel et al., 2020), read from the CROWN pass that bounded the domain. An unstable
    /// ReLU whose output carries a negative coefficient g in the bound is replaced there by its chord, whose
    /// intercept −l·u/(u − l) costs |g|·(−l·u/(u − l)) of the bound; either split removes that cost (each
    /// child's set is a segment through the origin). When no chord is used, the neuron whose lower edge is
    /// longest against its coefficient is taken.
    case babsr
    /// Filtered smart branching (De Palma et al., 2021): BaBSR's best few candidates, each scored by the
    /// worse of its two children's CROWN bounds over the parent's intermediate bounds.
    case fsb
    /// The neuron with the largest chord intercept, blind to the bound's coefficients (a baseline).
    case intercept
}

extension ReLUBranchAndBound {
    /// BaBSR's candidates filtered by FSB: this many are tried by bounding their children.
    static let filteredCandidates = 4

    func branchingNeuron(_ domain: Domain, _ coefficients: [Int: Matrix], column: Int,
                         objective: Matrix, box: Interval, scratch: inout DualScratch) -> ReLUSplit? {
        let ranked = rankedNeurons(domain, coefficients, column: column)
        guard rule == .fsb, ranked.count > 1 else { return ranked.first }
        var best: (score: Double, split: ReLUSplit)? = nil
        for split in ranked.prefix(Self.filteredCandidates) {
            var worst = Double.infinity
            for active in [true, false] {
                var bounds = domain.bounds
                if active {
                    bounds[split.node].lower[split.neuron] = 0
                } else {
                    bounds[split.node].upper[split.neuron] = 0
                }
                let r = evaluator.evaluate(target: graph.output, objectives: objective, box: box, bounds: bounds,
                                           rule: .crown, keepActivationCoefficients: false, relaxations: nil,
                                           stops: [], scratch: &scratch)
                worst = min(worst, r.lower[0])
            }
            if best.map({ worst > $0.score }) ?? true { best = (worst, split) }
        }
        return best?.split
    }

    /// The unstable ReLUs, best first by the rule's score (at most `filteredCandidates` kept for FSB, one
    /// otherwise).
    func rankedNeurons(_ domain: Domain, _ coefficients: [Int: Matrix], column: Int) -> [ReLUSplit] {
        var scored: [(score: Double, fallback: Double, split: ReLUSplit)] = []
        for (w, r) in reluLayers {
            let b = domain.bounds[w]
            let g = coefficients[r]
            for i in 0..<b.count {
                let l = b.lower[i], u = b.upper[i]
                guard l < 0 && u > 0 && l.isFinite && u.isFinite else { continue }
                let gi = g.map { $0[i, column] } ?? 0
                let intercept = -l * u / (u - l)
                let score = rule == .intercept ? intercept : max(-gi, 0) * intercept
                scored.append((score, abs(gi) * min(u, -l), ReLUSplit(node: w, neuron: i, active: true)))
            }
        }
        let keep = rule == .fsb ? Self.filteredCandidates : 1
        return scored.sorted { ($0.score, $0.fallback) > ($1.score, $1.fallback) }.prefix(keep).map(\.split)
    }

    /// Each ReLU's pre-activation node with its activation node, in graph order.
    static func reluLayers(_ graph: Graph) -> [(Int, Int)] {
        graph.activationOf.compactMap { w, r in
            graph.nodes[r].operation.elementwise.map { $0.op is ReLU } == true ? (w, r) : nil
        }.sorted { $0.0 < $1.0 }
    }
}
