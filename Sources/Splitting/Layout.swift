import Network

/// How a (graph, target) problem is split, as DeepSplit does: block A holds
/// one set per affine node, {(inputs, output) : output = W·inputs + b}, with its
/// own copies ("slots") of the node values it touches; block B holds each node's
/// value once, constrained by its own set (input box, an activation's relaxed
/// set, or free).
/// ADMM alternates the two, tied by consensus constraints copy = value.
final class Layout: Sendable {
    struct AffineBlock: Sendable {
        let node: Int
        let inputSlots: [Int]
        let outputSlot: Int
    }

    let target: Int
    let live: [Int]
    let slotNode: [Int]
    let slotsOfNode: [[Int]]
    let blocks: [AffineBlock]
    /// Pre-activation node -> its nonlinear node (activation or product).
    let activationOf: [Int: Int]
    /// Pre-activation node -> the output slot of its affine block (its duals are the multipliers).
    let dualSlot: [Int: Int]

    init(graph: Graph, target: Int) {
        self.target = target
        let liveSet = graph.ancestors(of: target)
        live = liveSet.sorted()
        var slotNode: [Int] = []
        var blocks: [AffineBlock] = []
        var dualSlot: [Int: Int] = [:]
        var activationOf: [Int: Int] = [:]
        for v in live { if let u = graph.nodes[v].operation.nonlinearInput { activationOf[u] = v } }
        func slot(_ v: Int) -> Int {
            slotNode.append(v)
            return slotNode.count - 1
        }
        for v in live {
            if case .affine(let a) = graph.nodes[v].operation {
                let ins = a.terms.map { slot($0.input) }
                let out = slot(v)
                blocks.append(AffineBlock(node: v, inputSlots: ins, outputSlot: out))
                if activationOf[v] != nil { dualSlot[v] = out }
            }
        }
        var slotsOfNode = [[Int]](repeating: [], count: graph.nodes.count)
        for (s, v) in slotNode.enumerated() { slotsOfNode[v].append(s) }
        self.slotNode = slotNode
        self.slotsOfNode = slotsOfNode
        self.blocks = blocks
        self.dualSlot = dualSlot
        self.activationOf = activationOf
    }
}

