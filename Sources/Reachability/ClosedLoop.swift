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
    /// ODE plants: the plant, and per period t the nodes of x at each sub-step's
    /// start (substepNodes[t][0] = stateNodes[t]) and of the saturated control.
    public let ode: ODEPlant?
    public let substepNodes: [[Int]]
    public let controlNodes: [Int]
    /// The node that adds remainder (t, j), for each (t, j), in order.
    public let remainderReaders: [Int: (period: Int, substep: Int)]
    let controller: Graph?
    let uMin: [Double]?, uMax: [Double]?

    public init(_ system: SystemDescription, steps: Int) throws {
        let n = system.stateCount
        let nw = system.disturbance?.lower.count ?? 0
        var ode: ODEPlant? = nil
        if case .ode(let p) = system.plant { ode = p }
        let remainders = (ode?.substeps ?? 0) * steps * n
        let width = n + steps * nw + remainders
        var g = Graph()
        let input = g.addInput(name: "x0_w", size: width)
        var substepNodes: [[Int]] = [], controlNodes: [Int] = [], readers: [Int: (period: Int, substep: Int)] = [:]
        func selector(offset: Int, count: Int) -> Matrix {
            var s = Matrix(rows: count, cols: width)
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
            case .ode(let p):
                let control = try Self.controlNode(controlTerms, count: p.inputs.count, into: &g, name: "t\(t)/u")
                let period = try Self.odePeriod(p, state: x, control: control, disturbance: n + t * nw,
                                                remainder: { n + steps * nw + (t * p.substeps + $0) * n },
                                                into: &g, prefix: "t\(t)/dyn/")
                x = period.next
                substepNodes.append(period.substeps)
                controlNodes.append(control ?? -1)
                for (j, reader) in period.readers.enumerated() { readers[reader] = (t, j) }
            }
            states.append(x)
        }
        g.output = x
        graph = g
        stateNodes = states
        stateCount = n
        disturbanceCount = nw
        self.steps = steps
        self.ode = ode
        self.substepNodes = substepNodes
        self.controlNodes = controlNodes
        remainderReaders = readers
        controller = system.controller
        uMin = system.uMin
        uMax = system.uMax
    }

    /// Offset of remainder (t, j) in the input.
    public func remainderOffset(period t: Int, substep j: Int) -> Int {
        stateCount + steps * disturbanceCount + (t * (ode?.substeps ?? 0) + j) * stateCount
    }

    /// The saturated control as one affine node (nil without a controller).
    static func controlNode(_ terms: [(node: Int, sign: Double)], count m: Int, into g: inout Graph,
                            name: String) throws -> Int? {
        guard !terms.isEmpty else { return nil }
        let parts = terms.map { AffineTerm(input: $0.node, weight: $0.sign * Matrix.identity(m)) }
        return try g.addAffine(name: name, terms: merged(parts), bias: [Double](repeating: 0, count: m))
    }

    /// One control period of an ODE plant: `substeps` copies of the Taylor
    /// polynomial, each followed by its remainder input. Returns x at the end,
    /// the sub-steps' start nodes and the nodes that read the remainders.
    static func odePeriod(_ p: ODEPlant, state x0: Int, control: Int?, disturbance: Int, remainder: (Int) -> Int,
                          into g: inout Graph, prefix: String) throws -> (next: Int, substeps: [Int], readers: [Int]) {
        var fixed: [String: AffineForm] = p.constants.mapValues { .constant($0) }
        for (j, u) in p.inputs.enumerated() { fixed[u] = control.map { .value(node: $0, row: j) } ?? .constant(0) }
        for (j, w) in p.disturbances.enumerated() { fixed[w] = .value(node: 0, row: disturbance + j) }
        var x = x0, starts: [Int] = [], readers: [Int] = []
        for j in 0..<p.substeps {
            starts.append(x)
            var names = fixed
            for (i, s) in p.states.enumerated() { names[s] = .value(node: x, row: i) }
            var compiler = ExpressionCompiler(names: names, prefix: prefix + "s\(j)/")
            let offset = remainder(j)
            let forms = try p.taylor.enumerated().map { i, e in
                try compiler.compile(e, into: &g) + .value(node: 0, row: offset + i)
            }
            x = try compiler.node(forms, into: &g)
            readers.append(x)
        }
        return (x, starts, readers)
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

    /// Exact simulation: the state at every step for x_0 and disturbances w
    /// (ODE plants: the true flow within the integrator's tolerance).
    public func simulate(_ x0: [Double], disturbances: [Double] = []) -> [[Double]] {
        if ode != nil { return simulateFlow(x0, disturbances: disturbances).states }
        let input = x0 + (disturbances.isEmpty ? [Double](repeating: 0, count: steps * disturbanceCount) : disturbances)
        let values = graph.evaluateAll(input)
        return stateNodes.map { values[$0] }
    }
}

extension ClosedLoop {
    /// The saturated control at x.
    public func control(_ x: [Double]) -> [Double] {
        guard let controller else { return [] }
        var u = controller.evaluate(x)
        for i in u.indices {
            if let hi = uMax?[i] { u[i] = min(u[i], hi) }
            if let lo = uMin?[i] { u[i] = max(u[i], lo) }
        }
        return u
    }

    /// An ODE plant's closed loop simulated with the adaptive integrator: the
    /// states at the samples, every accepted point inside period t (`observe(t, x)`),
    /// and the summed error estimate.
    public func simulateFlow(_ x0: [Double], disturbances: [Double] = [],
                             observe: ((Int, [Double]) -> Void)? = nil) -> (states: [[Double]], error: Double) {
        guard let ode else { return (simulate(x0, disturbances: disturbances), 0) }
        var x = x0, states = [x0], error = 0.0
        let nd = disturbanceCount
        for t in 0..<steps {
            let u = control(x)
            let w = disturbances.count >= (t + 1) * nd ? Array(disturbances[(t * nd)..<((t + 1) * nd)])
                : [Double](repeating: 0, count: nd)
            let r = ode.flow(x, inputs: u, disturbances: w, observe: observe.map { f in { f(t, $0) } })
            x = r.state
            error += r.error
            states.append(x)
        }
        return (states, error)
    }
}
