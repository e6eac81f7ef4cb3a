import Foundation
import Network
import Bounds

/// A closed interval [lower, upper] of the natural interval extension, every
/// operation rounded outward (one step past the rounded result covers its
/// half-ulp error).
public struct Span: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double

    public init(_ lower: Double, _ upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    public static func point(_ x: Double) -> Span { Span(x, x) }
    public static let everything = Span(-.infinity, .infinity)

    public var isFinite: Bool { lower.isFinite && upper.isFinite && lower <= upper }
    public var width: Double { upper - lower }
    public var description: String { "[\(lower), \(upper)]" }

    public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
    public func contains(_ s: Span) -> Bool { lower <= s.lower && s.upper <= upper }
    public func hull(_ s: Span) -> Span { Span(min(lower, s.lower), max(upper, s.upper)) }

    static func outward(_ lo: Double, _ hi: Double) -> Span {
        guard !lo.isNaN, !hi.isNaN else { return .everything }
        return Span(lo == -.infinity ? lo : lo.nextDown, hi == .infinity ? hi : hi.nextUp)
    }

    public static func + (a: Span, b: Span) -> Span { outward(a.lower + b.lower, a.upper + b.upper) }
    public static func - (a: Span, b: Span) -> Span { outward(a.lower - b.upper, a.upper - b.lower) }
    public static prefix func - (a: Span) -> Span { Span(-a.upper, -a.lower) }

    public static func * (a: Span, b: Span) -> Span {
        guard a.isFinite, b.isFinite else { return .everything }
        let p = [a.lower * b.lower, a.lower * b.upper, a.upper * b.lower, a.upper * b.upper]
        return outward(p.min() ?? .nan, p.max() ?? .nan)
    }

    /// Through an operator's sound interval (libm's errors included); nil outside its domain.
    func through(_ op: any ElementwiseOperator) -> Span? {
        guard isFinite, op.domainViolation(lower: lower, upper: upper) == nil else { return nil }
        let r = op.checkedInterval(lower: lower, upper: upper)
        return Span(r.lower, r.upper)
    }
}

extension ScalarExpression {
    /// A sound enclosure of the expression's values over boxes of its names, or
    /// nil when a divisor's or a square root's range reaches its singularity.
    public func interval(_ env: [String: Span]) -> Span? {
        switch self {
        case .number(let v): return .point(v)
        case .name(let n): return env[n]
        case .negate(let a): return a.interval(env).map { -$0 }
        case .add(let a, let b): return pair(a, b, env).map { $0 + $1 }
        case .subtract(let a, let b): return pair(a, b, env).map { $0 - $1 }
        case .multiply(let a, let b):
            if a == b { return a.interval(env)?.through(Power(exponent: 2)) }
            return pair(a, b, env).map { $0 * $1 }
        case .divide(let a, let b):
            guard let (x, y) = pair(a, b, env), let r = y.through(Reciprocal()) else { return nil }
            return x * r
        case .power(let a, let k):
            guard let x = a.interval(env) else { return nil }
            return k == 0 ? .point(1) : k == 1 ? x : x.through(Power(exponent: k))
        case .call(let f, let a):
            guard let x = a.interval(env) else { return nil }
            switch f {
            case .sin: return x.through(Sinusoid.sine)
            case .cos: return x.through(Sinusoid.cosine)
            case .tan:
                guard let s = x.through(Sinusoid.sine), let c = x.through(Sinusoid.cosine),
                      let r = c.through(Reciprocal()) else { return nil }
                return s * r
            case .exp: return x.through(Exp())
            case .sqrt: return x.through(SquareRoot())
            case .tanh: return x.through(Tanh())
            case .sigmoid: return x.through(Sigmoid())
            }
        }
    }

    func pair(_ a: ScalarExpression, _ b: ScalarExpression, _ env: [String: Span]) -> (Span, Span)? {
        guard let x = a.interval(env), let y = b.interval(env) else { return nil }
        return (x, y)
    }
}

extension Interval {
    /// Per coordinate, as spans.
    var spans: [Span] { zip(lower, upper).map { Span($0, $1) } }
}
