import Foundation

/// Validated integration of x' = f(x, u) with u (and disturbances) held over
/// each step (zero-order hold), by the interval Taylor series method of
/// validated ODE solvers (VNODE, CAPD):
/// 1. an a-priori enclosure B of every solution over [0, h] from the box X:
///    if X + [0, h]·f(B) ⊆ B, Picard–Lindelöf gives a solution that exists and
///    stays in B on [0, h] (the operator maps the set of paths in B into
///    itself); B is found by inflating until the test passes;
/// 2. the enclosure at h: x(h) = x + Σ_{k=1..p} h^k/k! (L^{k−1} f)(x)
///    + h^{p+1}/(p+1)! (L^p f)(ξ) for some ξ on the path, so ξ ∈ B (Taylor
///    with the Lagrange remainder, componentwise). L^k f are the Lie
///    derivatives, differentiated symbolically; every term is evaluated in
///    outward-rounded interval arithmetic.
public struct TaylorIntegrator: Sendable {
    public let states: [String]
    public let field: [ScalarExpression]
    public let order: Int
    /// lie[k][i] = (L^k f)_i: lie[0] is f itself.
    public let lie: [[ScalarExpression]]

    /// Picard attempts before giving up on a step (each widens the candidate).
    static let inflations = 30
    /// Relative widening per attempt (and an absolute floor for point boxes).
    static let inflation = 0.1, smallestInflation = 1e-12

    public init(states: [String], field: [ScalarExpression], order: Int = 3) {
        self.states = states
        self.field = field
        self.order = max(1, order)
        var lie = [field]
        for _ in 0..<self.order {
            lie.append(lie[lie.count - 1].map { $0.lieDerivative(states: states, field: field) })
        }
        self.lie = lie
    }

    public struct Enclosure: Sendable {
        /// Every solution at the end of the step.
        public var end: [Span]
        /// Every solution over the whole step.
        public var whole: [Span]
    }

    func environment(_ x: [Span], _ fixed: [String: Span]) -> [String: Span] {
        var env = fixed
        for (name, s) in zip(states, x) { env[name] = s }
        return env
    }

    /// f over the box, per state.
    func fieldBox(_ k: Int, _ x: [Span], _ fixed: [String: Span]) -> [Span]? {
        let env = environment(x, fixed)
        var out: [Span] = []
        for e in lie[k] {
            guard let s = e.interval(env), s.isFinite else { return nil }
            out.append(s)
        }
        return out
    }

    /// B with X + [0, h]·f(B) ⊆ B, or nil when none is found (h too long for the dynamics).
    public func apriori(_ x: [Span], fixed: [String: Span], h: Double) -> [Span]? {
        let time = Span(0, h)
        guard var f = fieldBox(0, x, fixed) else { return nil }
        var b = zip(x, f).map { $0 + time * $1 }
        for _ in 0..<Self.inflations {
            b = b.map { s in
                let pad = Self.inflation * s.width + Self.smallestInflation * max(1, abs(s.lower), abs(s.upper))
                return Span.outward(s.lower - pad, s.upper + pad)
            }
            guard let fb = fieldBox(0, b, fixed) else { return nil }
            f = fb
            let next = zip(x, f).map { $0 + time * $1 }
            if zip(b, next).allSatisfy({ $0.contains($1) }) { return next }
            b = zip(b, next).map { $0.hull($1) }
        }
        return nil
    }

    /// One validated step of length h.
    public func step(_ x: [Span], fixed: [String: Span], h: Double) -> Enclosure? {
        guard let b = apriori(x, fixed: fixed, h: h) else { return nil }
        var end = x
        var coefficient = Span.point(1)   // h^k / k!, enclosed
        for k in 1...order {
            coefficient = coefficient * .point(h)
            coefficient = Span.outward(coefficient.lower / Double(k), coefficient.upper / Double(k))
            guard let term = fieldBox(k - 1, x, fixed) else { return nil }
            end = zip(end, term).map { $0 + coefficient * $1 }
        }
        coefficient = coefficient * .point(h)
        coefficient = Span.outward(coefficient.lower / Double(order + 1), coefficient.upper / Double(order + 1))
        guard let remainder = fieldBox(order, b, fixed) else { return nil }
        end = zip(end, remainder).map { $0 + coefficient * $1 }
        // Both are enclosures of x(h); their intersection is too.
        end = zip(end, b).map { Span(max($0.lower, $1.lower), min($0.upper, $1.upper)) }
        return Enclosure(end: end, whole: b)
    }

    /// A period as `substeps` equal steps: the end, and the hull over the whole period.
    public func period(_ x: [Span], fixed: [String: Span], length: Double, substeps: Int) -> Enclosure? {
        let h = length / Double(max(1, substeps))
        var current = x
        var whole = x
        for _ in 0..<max(1, substeps) {
            guard let e = step(current, fixed: fixed, h: h) else { return nil }
            whole = zip(whole, e.whole).map { $0.hull($1) }
            current = e.end
        }
        return Enclosure(end: current, whole: whole)
    }
}
