import Network

/// Every activation's relaxed sets for one set of pre-activation bounds, keyed
/// by the pre-activation node (one set per neuron). Built once per bound
/// computation, since building a smooth function's set costs libm calls.
public struct Relaxations: Sendable {
    public var sets: [Int: [RelaxedSet]] = [:]

    public init() {}

    /// Sets for each activation whose node is marked in `live` (all when nil).
    public init(graph: Graph, bounds: [Interval], live: [Bool]? = nil) {
        for (v, node) in graph.nodes.enumerated() {
            guard let e = node.operation.elementwise, live.map({ v < $0.count && $0[v] }) ?? true else { continue }
            add(e.op, node: e.input, bounds: bounds[e.input])
        }
    }

    public mutating func add(_ op: any ElementwiseOperator, node w: Int, bounds b: Interval) {
        sets[w] = Self.sets(op, bounds: b)
    }

    public static func sets(_ op: any ElementwiseOperator, bounds b: Interval) -> [RelaxedSet] {
        (0..<b.count).map { op.relaxation(lower: b.lower[$0], upper: b.upper[$0]) }
    }

    public subscript(w: Int) -> [RelaxedSet]? { sets[w] }
}

extension Interval {
    /// Sound bounds of op's output from bounds of its input.
    public func applying(_ op: any ElementwiseOperator) -> Interval {
        var lo = lower, hi = upper
        for i in 0..<count { (lo[i], hi[i]) = op.checkedInterval(lower: lower[i], upper: upper[i]) }
        return Interval(lower: lo, upper: hi)
    }
}
