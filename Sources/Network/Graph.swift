import LinearAlgebra

/// One term W·x of an affine node, where x is the value of node `input`.
public struct AffineTerm: Sendable {
    public var input: Int
    public var map: LinearMap

    public init(input: Int, map: LinearMap) {
        self.input = input
        self.map = map
    }

    /// A dense term.
    public init(input: Int, weight: Matrix) {
        self.init(input: input, map: .dense(weight))
    }
}

/// z = Σ W_j x_j + b. Several terms let skip connections and unrolled closed
/// loops (x_{t+1} = A x_t + B u_t) be one node, so the state is carried exactly.
public struct Affine: Sendable {
    public var terms: [AffineTerm]
    public var bias: [Double]

    public init(terms: [AffineTerm], bias: [Double]) {
        self.terms = terms
        self.bias = bias
    }
}

public enum Operation: Sendable {
    case input
    case affine(Affine)
    /// y_i = f(z_i) for the values z of node `input`; what f is lives in its operator's file.
    case elementwise(any ElementwiseOperator, input: Int)
    /// p_i = x_i · y_i, where node `input` (size 2n) holds x then y (see `Product`).
    case product(input: Int)

    public var inputs: [Int] {
        switch self {
        case .input: return []
        case .affine(let a): return a.terms.map(\.input)
        case .elementwise(_, let i), .product(let i): return [i]
        }
    }

    /// The pre-activation node of a nonlinear node (elementwise or product).
    public var nonlinearInput: Int? {
        switch self {
        case .elementwise(_, let i), .product(let i): return i
        case .input, .affine: return nil
        }
    }

    /// The operator and its input, for an elementwise node.
    public var elementwise: (op: any ElementwiseOperator, input: Int)? {
        if case .elementwise(let op, let i) = self { return (op, i) }
        return nil
    }
}

public struct Node: Sendable {
    public var name: String
    public var size: Int
    public var operation: Operation

    public init(name: String, size: Int, operation: Operation) {
        self.name = name
        self.size = size
        self.operation = operation
    }
}

public struct GraphError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A DAG of affine and elementwise (activation) nodes over one input, with nodes stored in
/// topological order (every node's inputs come before it).
public struct Graph: Sendable {
    public private(set) var nodes: [Node]
    public var output: Int

    public init() {
        nodes = []
        output = 0
    }

    public var inputSize: Int { nodes.first?.size ?? 0 }
    public var outputSize: Int { nodes[output].size }

    /// The input is node 0; it must be added first.
    @discardableResult
    public mutating func addInput(name: String, size: Int) -> Int {
        // Programming error only: builders (importer, ClosedLoop) add the input first.
        precondition(nodes.isEmpty, "the input must be the first node")
        nodes.append(Node(name: name, size: size, operation: .input))
        return 0
    }

    @discardableResult
    public mutating func addAffine(name: String, terms: [AffineTerm], bias: [Double]) throws -> Int {
        let size = bias.count
        for term in terms {
            guard term.input >= 0 && term.input < nodes.count else {
                throw GraphError("affine node '\(name)': input \(term.input) does not exist yet")
            }
            guard term.map.rows == size && term.map.cols == nodes[term.input].size else {
                throw GraphError("affine node '\(name)': weight is \(term.map.rows)x\(term.map.cols), "
                    + "expected \(size)x\(nodes[term.input].size)")
            }
        }
        nodes.append(Node(name: name, size: size, operation: .affine(Affine(terms: terms, bias: bias))))
        return nodes.count - 1
    }

    @discardableResult
    public mutating func addElementwise(name: String, _ op: any ElementwiseOperator, input: Int) throws -> Int {
        guard input >= 0 && input < nodes.count else {
            throw GraphError("\(op) node '\(name)': input \(input) does not exist yet")
        }
        nodes.append(Node(name: name, size: nodes[input].size, operation: .elementwise(op, input: input)))
        return nodes.count - 1
    }

    /// p = x·y elementwise, reading a node of size 2n that holds x then y.
    @discardableResult
    public mutating func addProduct(name: String, input: Int) throws -> Int {
        guard input >= 0 && input < nodes.count else {
            throw GraphError("product node '\(name)': input \(input) does not exist yet")
        }
        guard nodes[input].size % 2 == 0 else {
            throw GraphError("product node '\(name)': input has \(nodes[input].size) values, "
                + "expected x and y of one size")
        }
        nodes.append(Node(name: name, size: nodes[input].size / 2, operation: .product(input: input)))
        return nodes.count - 1
    }

    @discardableResult
    public mutating func addReLU(name: String, input: Int) throws -> Int {
        try addElementwise(name: name, ReLU(), input: input)
    }

    /// consumers[v]: the nodes that read v.
    public var consumers: [[Int]] {
        var result = [[Int]](repeating: [], count: nodes.count)
        for (v, node) in nodes.enumerated() {
            for u in node.operation.inputs where !result[u].contains(v) { result[u].append(v) }
        }
        return result
    }

    /// ancestorMask(of: t)[v]: whether `t` can be reached from v (t included).
    /// Nodes are in topological order, so one backward sweep decides it.
    public func ancestorMask(of target: Int) -> [Bool] {
        var mask = [Bool](repeating: false, count: nodes.count)
        mask[target] = true
        for v in stride(from: target, through: 0, by: -1) where mask[v] {
            for u in nodes[v].operation.inputs { mask[u] = true }
        }
        return mask
    }

    /// Nodes from which `target` can be reached (target included).
    public func ancestors(of target: Int) -> Set<Int> {
        var seen: Set<Int> = [target]
        var stack = [target]
        while let v = stack.popLast() {
            for u in nodes[v].operation.inputs where !seen.contains(u) {
                seen.insert(u)
                stack.append(u)
            }
        }
        return seen
    }

    /// Nodes read by some nonlinear node (elementwise or product): their bounds shape the relaxation.
    public var preActivationNodes: [Int] {
        var result: [Int] = []
        for node in nodes { if let u = node.operation.nonlinearInput, !result.contains(u) { result.append(u) } }
        return result.sorted()
    }

    /// Pre-activation node -> the nonlinear node reading it (one per node in a normalized graph).
    public var activationOf: [Int: Int] {
        var result: [Int: Int] = [:]
        for (v, node) in nodes.enumerated() { if let u = node.operation.nonlinearInput { result[u] = v } }
        return result
    }

    public var parameterCount: Int {
        nodes.reduce(0) { total, node in
            if case .affine(let a) = node.operation {
                return total + a.bias.count + a.terms.reduce(0) { $0 + $1.map.storedCount }
            }
            return total
        }
    }

    /// Forward pass: the value of every node for input x.
    public func evaluateAll(_ x: [Double]) -> [[Double]] {
        // Callers check outside inputs first (eval --input, sensor x, VNN-LIB boxes, boxes).
        precondition(x.count == inputSize, "input has \(x.count) values, the network takes \(inputSize)")
        var values = [[Double]](repeating: [], count: nodes.count)
        for (v, node) in nodes.enumerated() {
            switch node.operation {
            case .input:
                values[v] = x
            case .affine(let a):
                var z = a.bias
                for term in a.terms { term.map.apply(values[term.input], into: &z, beta: 1) }
                values[v] = z
            case .elementwise(let op, let u):
                values[v] = values[u].map { op.value($0) }
            case .product(let u):
                let n = node.size
                values[v] = (0..<n).map { values[u][$0] * values[u][n + $0] }
            }
        }
        return values
    }

    public func evaluate(_ x: [Double]) -> [Double] {
        evaluateAll(x)[output]
    }
}

extension Graph {
    /// Makes the graph fit the relaxation's bookkeeping: every nonlinear node
    /// reads an affine node that no other nonlinear node reads (inserting
    /// identity nodes where not), the output is an affine node (an identity
    /// after an activation output), and nodes no longer reaching the output are dropped.
    public func normalized() -> Graph {
        var result = Graph()
        var map = [Int](repeating: -1, count: nodes.count)
        var readers: [Int: Int] = [:]   // new pre-activation node -> an elementwise node already reading it
        let live = ancestors(of: output)
        for (v, node) in nodes.enumerated() where live.contains(v) {
            switch node.operation {
            case .input:
                map[v] = result.addInput(name: node.name, size: node.size)
            case .affine(let a):
                let terms = a.terms.map { AffineTerm(input: map[$0.input], map: $0.map) }
                // Shapes were checked when the source graph was built.
                map[v] = (try? result.addAffine(name: node.name, terms: terms, bias: a.bias)) ?? -1
            case .elementwise, .product:
                guard let u = node.operation.nonlinearInput else { continue }
                var source = map[u]
                let needsCopy: Bool
                if case .affine = result.nodes[source].operation { needsCopy = readers[source] != nil }
                else { needsCopy = true }
                if needsCopy {
                    let n = result.nodes[source].size
                    source = (try? result.addAffine(name: node.name + "/pre",
                        terms: [AffineTerm(input: source, map: .identity(n))],
                        bias: [Double](repeating: 0, count: n))) ?? -1
                }
                let r: Int
                if let e = node.operation.elementwise {
                    r = (try? result.addElementwise(name: node.name, e.op, input: source)) ?? -1
                } else {
                    r = (try? result.addProduct(name: node.name, input: source)) ?? -1
                }
                readers[source] = r
                map[v] = r
            }
        }
        result.output = map[output]
        if !result.isAffine(result.output) {
            // The relaxation's objective lives on an affine node (its multiplier is −c
            // exactly); an activation or input output is read through an identity node.
            let n = result.nodes[result.output].size
            let name = result.nodes[result.output].name + "/output"
            if let out = try? result.addAffine(name: name, terms: [AffineTerm(input: result.output, map: .identity(n))],
                                               bias: [Double](repeating: 0, count: n)) {
                result.output = out
            }
        }
        return result
    }

    /// Whether node v is an affine node (every bound's target must be one).
    public func isAffine(_ v: Int) -> Bool {
        if case .affine = nodes[v].operation { return true }
        return false
    }
}

extension Graph {
    /// Forward pass of K inputs at once (columns of `x`), up to `target`; returns
    /// the value of `target` (n_target × K). Nodes after `target` are skipped.
    public func evaluateBatch(_ x: Matrix, upTo target: Int) -> Matrix {
        var values = [Matrix?](repeating: nil, count: target + 1)
        let k = x.cols
        for v in 0...target {
            switch nodes[v].operation {
            case .input:
                values[v] = x
            case .affine(let a):
                var z = Matrix(rows: nodes[v].size, cols: k)
                for c in 0..<k { for i in 0..<z.rows { z.data[i + c * z.rows] = a.bias[i] } }
                for t in a.terms { if let xin = values[t.input] { t.map.apply(xin, into: &z, beta: 1) } }
                values[v] = z
            case .elementwise(let op, let u):
                guard var z = values[u] else { continue }
                for i in 0..<z.data.count { z.data[i] = op.value(z.data[i]) }
                values[v] = z
            case .product(let u):
                guard let z = values[u] else { continue }
                values[v] = Self.products(z)
            }
        }
        return values[target] ?? Matrix(rows: nodes[target].size, cols: k)
    }
}

extension Graph {
    /// x_i·y_i per column of a matrix holding x (its first half of rows) then y.
    public static func products(_ z: Matrix) -> Matrix {
        let n = z.rows / 2
        var p = Matrix(rows: n, cols: z.cols)
        for c in 0..<z.cols {
            for i in 0..<n { p.data[i + c * n] = z.data[i + c * z.rows] * z.data[n + i + c * z.rows] }
        }
        return p
    }
}
