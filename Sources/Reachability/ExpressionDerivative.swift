import Foundation

/// Symbolic derivatives of expressions (the Lie derivatives of a Taylor
/// step). Constants are folded only where the result is exact, so that a
/// derived coefficient is the true one, not a rounded neighbour.
extension ScalarExpression {
    /// ∂self/∂name.
    public func derivative(_ v: String) -> ScalarExpression {
        switch self {
        case .number: return .number(0)
        case .name(let n): return .number(n == v ? 1 : 0)
        case .negate(let a): return .neg(a.derivative(v))
        case .add(let a, let b): return .sum(a.derivative(v), b.derivative(v))
        case .subtract(let a, let b): return .difference(a.derivative(v), b.derivative(v))
        case .multiply(let a, let b):
            return .sum(.times(a.derivative(v), b), .times(a, b.derivative(v)))
        case .divide(let a, let b):
            // (a' b − a b') / b²
            return .quotient(.difference(.times(a.derivative(v), b), .times(a, b.derivative(v))), .raised(b, 2))
        case .power(let a, let k):
            return k == 0 ? .number(0) : .times(.times(.number(Double(k)), .raised(a, k - 1)), a.derivative(v))
        case .call(let f, let a):
            return .times(f.derivative(at: a), a.derivative(v))
        }
    }

    /// L_f g = Σ_j ∂g/∂x_j · f_j: the derivative along the vector field (inputs held).
    public func lieDerivative(states: [String], field: [ScalarExpression]) -> ScalarExpression {
        zip(states, field).reduce(ScalarExpression.number(0)) { .sum($0, .times($1.1, derivative($1.0))) }
    }

    // Simplifying constructors: 0 and 1 vanish, numbers fold when exact.
    static func neg(_ a: ScalarExpression) -> ScalarExpression {
        if case .number(let x) = a { return .number(-x) }
        if case .negate(let b) = a { return b }
        return .negate(a)
    }

    static func sum(_ a: ScalarExpression, _ b: ScalarExpression) -> ScalarExpression {
        if case .number(0) = a { return b }
        if case .number(0) = b { return a }
        if case .number(let x) = a, case .number(let y) = b, let s = exactSum(x, y) { return .number(s) }
        return .add(a, b)
    }

    static func difference(_ a: ScalarExpression, _ b: ScalarExpression) -> ScalarExpression {
        if case .number(0) = b { return a }
        if case .number(0) = a { return neg(b) }
        return sum(a, neg(b))
    }

    static func times(_ a: ScalarExpression, _ b: ScalarExpression) -> ScalarExpression {
        if case .number(0) = a { return .number(0) }
        if case .number(0) = b { return .number(0) }
        if case .number(1) = a { return b }
        if case .number(1) = b { return a }
        if case .number(-1) = a { return neg(b) }
        if case .number(-1) = b { return neg(a) }
        if case .number(let x) = a, case .number(let y) = b, let p = exactProduct(x, y) { return .number(p) }
        return .multiply(a, b)
    }

    static func quotient(_ a: ScalarExpression, _ b: ScalarExpression) -> ScalarExpression {
        if case .number(0) = a { return .number(0) }
        if case .number(1) = b { return a }
        return .divide(a, b)
    }

    static func raised(_ a: ScalarExpression, _ k: Int) -> ScalarExpression {
        if k == 0 { return .number(1) }
        if k == 1 { return a }
        return .power(a, k)
    }

    /// x + y when it is exact in floating point (TwoSum's error term is 0).
    static func exactSum(_ x: Double, _ y: Double) -> Double? {
        let s = x + y
        let bp = s - x
        let err = (x - (s - bp)) + (y - bp)
        return s.isFinite && err == 0 ? s : nil
    }

    /// x · y when it is exact (the fused multiply-add's residual is 0).
    static func exactProduct(_ x: Double, _ y: Double) -> Double? {
        let p = x * y
        return p.isFinite && (-p).addingProduct(x, y) == 0 ? p : nil
    }
}

extension ExpressionFunction {
    /// f′(a) as an expression.
    func derivative(at a: ScalarExpression) -> ScalarExpression {
        switch self {
        case .sin: return .call(.cos, a)
        case .cos: return ScalarExpression.neg(.call(.sin, a))
        case .tan: return ScalarExpression.sum(.number(1), .power(.call(.tan, a), 2))
        case .exp: return .call(.exp, a)
        case .sqrt: return .divide(.number(0.5), .call(.sqrt, a))
        case .tanh: return ScalarExpression.difference(.number(1), .power(.call(.tanh, a), 2))
        case .sigmoid:
            let s = ScalarExpression.call(.sigmoid, a)
            return ScalarExpression.times(s, ScalarExpression.difference(.number(1), s))
        }
    }
}
