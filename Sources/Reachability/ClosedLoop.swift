import LinearAlgebra
import Network

/// The closed loop unrolled over T steps as one graph DAG. The input node is
/// [x_0; w_1; ...; w_T] (the disturbances, when there are any); the state of
/// every step is an affine node, carried exactly (never through ReLUs), and
/// the saturation clip(v, lo, hi) = v − relu(v − hi) + relu(lo − v) is exact.
public struct ClosedLoop: Sendable {
    public let graph: Graph
    /// stateNodes[t]: the node holding x_t, t = 0...T.
    public let stateNodes: [Int]
    public let stateCount: Int
    public let disturbanceCount: Int
    public let steps: Int

    public init(_ system: SystemDescription, steps: Int) throws {
        let n = system.stateCount
        let nw = system.disturbance == nil ? 0 : n
        var g = Graph()
        let input = g.addInput(name: "x0_w", size: n + steps * nw)
        func selector(offset: Int, count: Int) -> Matrix {
            var s = Matrix(rows: count, cols: n + steps * nw)
            for i in 0..<count { s[i, offset + i] = 1 }
            return s
        }
        var x = try g.addAffine(name: "x0", terms: [AffineTerm(input: input, weight: selector(offset: 0, count: n))],
                                bias: [Double](repeating: 0, count: n))
        var states = [x]
        for t in 0..<steps {
            // The control as a sum of terms (u, −relu(u − hi), +relu(lo − u)).
            var controlTerms: [(node: Int, sign: Double)] = []
            if let c = system.controller {
                let u = try Self.embed(c, into: &g, inputTerms: { w in [AffineTerm(input: x, weight: w)] }, prefix: "t\(t)/ctrl/")
                controlTerms.append((u, 1))
                let m = c.outputSize
                if let hi = system.uMax {
                    let a = try g.addAffine(name: "t\(t)/sat_hi", terms: [AffineTerm(input: u, weight: .identity(m))],
                                            bias: hi.map { -$0 })
                    controlTerms.append((try g.addReLU(name: "t\(t)/sat_hi_relu", input: a), -1))
                }
                if let lo = system.uMin {
                    let a = try g.addAffine(name: "t\(t)/sat_lo", terms: [AffineTerm(input: u, weight: -1 * Matrix.identity(m))],
                                            bias: lo)
                    controlTerms.append((try g.addReLU(name: "t\(t)/sat_lo_relu", input: a), 1))
                }
            }
            let w = nw > 0 ? AffineTerm(input: input, weight: selector(offset: n + t * nw, count: nw)) : nil
            switch system.plant {
            case .linear(let a, let b, let c):
                var terms = [AffineTerm(input: x, weight: a)]
                if let b { for (node, sign) in controlTerms { terms.append(AffineTerm(input: node, weight: sign * b)) } }
                if let w { terms.append(w) }
                x = try g.addAffine(name: "x\(t + 1)", terms: Self.merged(terms), bias: c)
            case .network(let model, _, let takesControl):
                let currentX = x
                let out = try Self.embed(model, into: &g, inputTerms: { weight in
                    // The model's input is x (first n columns) then u.
                    var terms = [AffineTerm(input: currentX, weight: weight.columns(0..<n))]
                    if takesControl {
                        let wu = weight.columns(n..<weight.cols)
                        for (node, sign) in controlTerms { terms.append(AffineTerm(input: node, weight: sign * wu)) }
                    }
                    return terms
                }, prefix: "t\(t)/dyn/")
                var terms = [AffineTerm(input: out, weight: .identity(n))]
                if let w { terms.append(w) }
                // An identity node keeps every state an affine node of its own.
                x = try g.addAffine(name: "x\(t + 1)", terms: terms, bias: [Double](repeating: 0, count: n))
            case .discrete(let p):
                let core = try Self.discreteStep(p, state: x, control: controlTerms, into: &g, prefix: "t\(t)/dyn/")
                x = w == nil ? core
                    : try g.addAffine(name: "x\(t + 1)",
                                      terms: [AffineTerm(input: core, weight: .identity(n))] + [w].compactMap { $0 },
                                      bias: [Double](repeating: 0, count: n))
            }
            states.append(x)
        }
        g.output = x
        graph = g
        stateNodes = states
        stateCount = n
        disturbanceCount = nw
        self.steps = steps
    }

    /// One step of a discrete plant: its expressions compiled over the state
    /// node's rows, the control's terms and the constants; returns the node of x_{t+1}.
    static func discreteStep(_ p: DiscretePlant, state x: Int, control: [(node: Int, sign: Double)],
                             into g: inout Graph, prefix: String) throws -> Int {
        var names: [String: AffineForm] = p.constants.mapValues { .constant($0) }
        for (i, s) in p.states.enumerated() { names[s] = .value(node: x, row: i) }
        for (j, u) in p.inputs.enumerated() {
            names[u] = control.reduce(AffineForm.constant(0)) { $0 + $1.sign * .value(node: $1.node, row: j) }
        }
        var compiler = ExpressionCompiler(names: names, prefix: prefix)
        let forms = try p.next.map { try compiler.compile($0, into: &g) }
        return try compiler.node(forms, into: &g)
    }

    /// Copies `net` into `g`; every term that read net's input is replaced by
    /// `inputTerms(weight)`. Returns the node of net's output.
    static func embed(_ net: Graph, into g: inout Graph, inputTerms: (Matrix) -> [AffineTerm], prefix: String) throws -> Int {
        var map = [Int](repeating: -1, count: net.nodes.count)
        for (v, node) in net.nodes.enumerated() {
            switch node.operation {
            case .input:
                continue
            case .affine(let a):
                var terms: [AffineTerm] = []
                for t in a.terms {
                    // Controller and dynamics networks are small: their input layer is composed densely.
                    if t.input == 0 { terms += inputTerms(t.map.denseMatrix) }
                    else { terms.append(AffineTerm(input: map[t.input], map: t.map)) }
                }
                map[v] = try g.addAffine(name: prefix + node.name, terms: merged(terms), bias: a.bias)
            case .elementwise(let op, let u):
                guard u != 0 else {
                    throw SystemError("network '\(prefix)': an activation (\(op)) reads the input directly; re-import it")
                }
                map[v] = try g.addElementwise(name: prefix + node.name, op, input: map[u])
            case .product(let u):
                guard u != 0 else {
                    throw SystemError("network '\(prefix)': a product reads the input directly; re-import it")
                }
                map[v] = try g.addProduct(name: prefix + node.name, input: map[u])
            }
        }
        return map[net.output]
    }

    /// Sums terms that read the same node.
    static func merged(_ terms: [AffineTerm]) -> [AffineTerm] {
        var out: [AffineTerm] = []
        for t in terms {
            if let i = out.firstIndex(where: { $0.input == t.input }) {
                out[i].map = LinearMap.sum(out[i].map, t.map, maximumDenseEntries: Int.max) ?? .dense(out[i].map.denseMatrix + t.map.denseMatrix)
            }
            else { out.append(t) }
        }
        return out
    }

    /// Exact simulation: the state at every step for x_0 and disturbances w.
    public func simulate(_ x0: [Double], disturbances: [Double] = []) -> [[Double]] {
        let input = x0 + (disturbances.isEmpty ? [Double](repeating: 0, count: steps * disturbanceCount) : disturbances)
        let values = graph.evaluateAll(input)
        return stateNodes.map { values[$0] }
    }
}
