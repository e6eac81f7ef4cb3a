import LinearAlgebra
import Network

/// A linear combination of graph values, c + Σ a·(node, row): what a linear
/// expression compiles to without adding nodes. Nonlinear pieces become nodes
/// (an operator or a product) whose row enters the next combination.
struct AffineForm: Sendable, Equatable {
    var constant: Double
    var terms: [Int: [Int: Double]]   // node -> row -> coefficient

    static func constant(_ c: Double) -> AffineForm { AffineForm(constant: c, terms: [:]) }
    static func value(node: Int, row: Int) -> AffineForm { AffineForm(constant: 0, terms: [node: [row: 1]]) }

    var isConstant: Bool { terms.values.allSatisfy { $0.values.allSatisfy { $0 == 0 } } }

    static func + (a: AffineForm, b: AffineForm) -> AffineForm {
        var r = a
        r.constant += b.constant
        for (node, rows) in b.terms { for (row, c) in rows { r.terms[node, default: [:]][row, default: 0] += c } }
        return r
    }

    static func * (s: Double, a: AffineForm) -> AffineForm {
        AffineForm(constant: s * a.constant, terms: a.terms.mapValues { $0.mapValues { s * $0 } })
    }
}

/// Compiles scalar expressions into a graph. Names resolve to affine forms (a
/// state's row, the control's terms, a constant's value); every nonlinear piece
/// becomes an affine node of its argument and an operator node, and equal
/// sub-expressions share their nodes.
struct ExpressionCompiler {
    let names: [String: AffineForm]
    let prefix: String
    var cache: [ScalarExpression: AffineForm] = [:]
    var count = 0

    init(names: [String: AffineForm], prefix: String) {
        self.names = names
        self.prefix = prefix
    }

    mutating func compile(_ e: ScalarExpression, into g: inout Graph) throws -> AffineForm {
        if let hit = cache[e] { return hit }
        let form = try build(e, into: &g)
        cache[e] = form
        return form
    }

    mutating func build(_ e: ScalarExpression, into g: inout Graph) throws -> AffineForm {
        switch e {
        case .number(let v): return .constant(v)
        case .name(let n):
            guard let f = names[n] else { throw SystemError("expression reads \"\(n)\", which has no value here") }
            return f
        case .negate(let a): return -1 * (try compile(a, into: &g))
        case .add(let a, let b): return try compile(a, into: &g) + compile(b, into: &g)
        case .subtract(let a, let b): return try compile(a, into: &g) + -1 * compile(b, into: &g)
        case .multiply(let a, let b):
            let x = try compile(a, into: &g), y = try compile(b, into: &g)
            if x.isConstant { return x.constant * y }
            if y.isConstant { return y.constant * x }
            if x == y { return try apply(Power(exponent: 2), x, into: &g) }
            return try product(x, y, into: &g)
        case .divide(let a, let b):
            let x = try compile(a, into: &g), y = try compile(b, into: &g)
            if y.isConstant { return (1 / y.constant) * x }
            let r = try apply(Reciprocal(), y, into: &g)
            return x.isConstant ? x.constant * r : try product(x, r, into: &g)
        case .power(let a, let k):
            let x = try compile(a, into: &g)
            if k == 0 { return .constant(1) }
            if k == 1 { return x }
            if x.isConstant { return .constant(integerPower(x.constant, k)) }
            return try apply(Power(exponent: k), x, into: &g)
        case .call(let f, let a):
            // Not folded for a constant argument: libm's value is not correctly rounded, and the
            // operator's interval of a point holds the true value.
            let x = try compile(a, into: &g)
            switch f {
            case .sin: return try apply(Sinusoid.sine, x, into: &g)
            case .cos: return try apply(Sinusoid.cosine, x, into: &g)
            case .tan:
                // tan = sin · (1/cos): a cos whose bounds reach 0 leaves the reciprocal's domain (no bound).
                let s = try apply(Sinusoid.sine, x, into: &g), c = try apply(Sinusoid.cosine, x, into: &g)
                return try product(s, try apply(Reciprocal(), c, into: &g), into: &g)
            case .exp: return try apply(Exp(), x, into: &g)
            case .sqrt: return try apply(SquareRoot(), x, into: &g)
            case .tanh: return try apply(Tanh(), x, into: &g)
            case .sigmoid: return try apply(Sigmoid(), x, into: &g)
            }
        }
    }

    /// An affine node holding the forms (one row each).
    mutating func node(_ forms: [AffineForm], into g: inout Graph) throws -> Int {
        var byNode: [Int: Matrix] = [:]
        for (r, f) in forms.enumerated() {
            for (u, rows) in f.terms {
                var w = byNode[u] ?? Matrix(rows: forms.count, cols: g.nodes[u].size)
                for (i, c) in rows { w[r, i] += c }
                byNode[u] = w
            }
        }
        let terms = byNode.keys.sorted().compactMap { u in byNode[u].map { AffineTerm(input: u, weight: $0) } }
        count += 1
        return try g.addAffine(name: "\(prefix)e\(count)", terms: terms, bias: forms.map(\.constant))
    }

    mutating func apply(_ op: any ElementwiseOperator, _ x: AffineForm, into g: inout Graph) throws -> AffineForm {
        let z = try node([x], into: &g)
        count += 1
        return .value(node: try g.addElementwise(name: "\(prefix)\(op)\(count)", op, input: z), row: 0)
    }

    mutating func product(_ x: AffineForm, _ y: AffineForm, into g: inout Graph) throws -> AffineForm {
        let z = try node([x, y], into: &g)
        count += 1
        return .value(node: try g.addProduct(name: "\(prefix)product\(count)", input: z), row: 0)
    }
}

/// x^k for a constant base: arithmetic on the file's numbers, rounded to
/// nearest like the numbers themselves (no libm involved).
func integerPower(_ x: Double, _ k: Int) -> Double {
    var r = 1.0
    for _ in 0..<k { r *= x }
    return r
}
