import Network

/// Every activation's relaxed sets for one set of pre-activation bounds, keyed
/// by the pre-activation node (one set per neuron). Built once per bound
/// computation, since building a smooth function's set costs libm calls.
public struct Relaxations: Sendable {
    public private(set) var sets: [Int: [RelaxedSet]] = [:]
    /// The same sets packed for the dual's loops, built with them: every CROWN pass over
    /// these bounds reads them (measured: repacking per pass was 7% of a monitor message).
    var columns: [Int: SetColumns] = [:]
    /// Each product's McCormick tetrahedra, keyed by its input node (holding x then y).
    public var products: [Int: [ProductSet]] = [:]
    /// Per affine node, Σ over its terms of |W|·max|bounds of the term's input|: the rounding margin's
    /// weights, which depend on the bounds only (kept by a pass that makes many CROWN passes).
    public var propagation: [Int: [Double]] = [:]

    public init() {}

    /// Sets for each activation whose node is marked in `live` (all when nil).
    public init(graph: Graph, bounds: [Interval], live: [Bool]? = nil) {
        for (v, node) in graph.nodes.enumerated() where live.map({ v < $0.count && $0[v] }) ?? true {
            switch node.operation {
            case .elementwise(let op, let u): add(op, node: u, bounds: bounds[u])
            case .product(let u): addProduct(node: u, bounds: bounds[u])
            case .input, .affine: continue
            }
        }
    }

    public mutating func addProduct(node w: Int, bounds b: Interval) {
        products[w] = Self.productSets(bounds: b)
    }

    /// Tetrahedra for a product's input bounds (x in the first half, y in the second).
    public static func productSets(bounds b: Interval) -> [ProductSet] {
        let n = b.count / 2
        return (0..<n).map { ProductSet(x: (b.lower[$0], b.upper[$0]), y: (b.lower[n + $0], b.upper[n + $0])) }
    }

    /// Node w's sets over bounds b, written over its last ones in place (a pass per message reuses them).
    public mutating func add(_ op: any ElementwiseOperator, node w: Int, bounds b: Interval) {
        Self.sets(op, bounds: b, into: &sets[w, default: []])
        columns[w, default: SetColumns()].update(sets[w] ?? [])
    }

    public static func sets(_ op: any ElementwiseOperator, bounds b: Interval) -> [RelaxedSet] {
        var list: [RelaxedSet] = []
        sets(op, bounds: b, into: &list)
        return list
    }

    /// The same into `list` (its storage reused when unique).
    static func sets(_ op: any ElementwiseOperator, bounds b: Interval, into list: inout [RelaxedSet]) {
        list.removeAll(keepingCapacity: true)
        list.reserveCapacity(b.count)
        for i in 0..<b.count { list.append(op.relaxation(lower: b.lower[i], upper: b.upper[i])) }
    }

    public subscript(w: Int) -> [RelaxedSet]? { sets[w] }
}

extension Interval {
    /// Sound bounds of x_i·y_i from bounds of a node holding x then y.
    public var products: Interval {
        let n = count / 2
        var lo = [Double](repeating: 0, count: n), hi = lo
        for i in 0..<n {
            (lo[i], hi[i]) = Product.interval((lower[i], upper[i]), (lower[n + i], upper[n + i]))
        }
        return Interval(lower: lo, upper: hi)
    }

    /// Sound bounds of op's output from bounds of its input.
    public func applying(_ op: any ElementwiseOperator) -> Interval {
        var lo = lower, hi = upper
        for i in 0..<count { (lo[i], hi[i]) = op.checkedInterval(lower: lower[i], upper: upper[i]) }
        return Interval(lower: lo, upper: hi)
    }

    /// The same into `result` (its storage reused when unique and of the same count).
    public func applying(_ op: any ElementwiseOperator, into result: inout Interval) {
        result.resize(to: count)
        for i in 0..<count {
            (result.lower[i], result.upper[i]) = op.checkedInterval(lower: lower[i], upper: upper[i])
        }
    }
}

/// Where bounds leave an operator's domain (1/z across 0, sqrt below 0). The
/// relaxation claims nothing there (its bound is −∞); a command that must
/// report a bound names the node instead.
public enum DomainCheck {
    /// The first nonlinear node, in order, whose input bounds leave its domain, and why.
    public static func firstViolation(_ graph: Graph, _ bounds: [Interval]) -> (node: String, reason: String)? {
        for node in graph.nodes {
            guard let e = node.operation.elementwise, e.input < bounds.count else { continue }
            let b = bounds[e.input]
            for i in 0..<b.count {
                if let why = e.op.domainViolation(lower: b.lower[i], upper: b.upper[i]) {
                    return (node.name, "value \(i): \(why)")
                }
            }
        }
        return nil
    }
}
