/// A nonlinear node applied to each value of one input node: y_i = f(z_i).
/// Everything the engine needs to know about f is here, so the graph, IBP,
/// CROWN, the dual bound and the splitting solver never ask which f it is.
/// One operator (or family) per file in this folder; soundness is local to
/// each: its interval and its relaxed set must hold f's true graph over [l, u],
/// rounding of libm included (see `LibmError`).
public protocol ElementwiseOperator: Sendable, CustomStringConvertible {
    /// The value f(z) (forward pass and falsification; libm's value for smooth f).
    func value(_ z: Double) -> Double
    /// The slope f'(z) (a one-sided slope at a kink), for the attack's backward pass; never used for a bound.
    func derivative(_ z: Double) -> Double
    /// Sound bounds of f over [l, u], rounded outward.
    func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double)
    /// A convex polygon holding {(z, f(z)) : l ≤ z ≤ u}, with CROWN's slopes;
    /// called with finite l ≤ u inside the domain (see `relaxation`).
    func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet
    /// Whether the relaxed set over [l, u] is a segment (f linear there); the default builds the set.
    func isLinear(lower l: Double, upper u: Double) -> Bool
    /// Whether f(d·z) = d·f(z) for d > 0 (ReLU, LeakyReLU): the solver then
    /// scales the output like the input and the closed-form projection applies.
    var isPositivelyHomogeneous: Bool { get }
    /// Why f is not defined on all of [l, u] (sqrt below 0, 1/z across 0), or nil.
    func domainViolation(lower l: Double, upper u: Double) -> String?
    /// Projection of (p, q) onto `set` in the metric w_z·dz² + w_y·dy²; the
    /// polygon routine unless the operator has a faster closed form.
    func project(_ p: Double, _ q: Double, onto set: RelaxedSet, weightZ: Double, weightY: Double) -> (Double, Double)
    /// Every (z, y) pair of a node projected onto its neuron's set: z and y are
    /// n × K column-major with n = sets.count. The solver's hot loop, one call per
    /// node and iteration, so an operator with a closed form runs it without a call per pair.
    func projectPairs(_ sets: [RelaxedSet], z: inout [Double], y: inout [Double], weightZ: Double, weightY: Double)
}

extension ElementwiseOperator {
    public var isPositivelyHomogeneous: Bool { false }
    public func isLinear(lower l: Double, upper u: Double) -> Bool { relaxation(lower: l, upper: u).isLinear }
    public func domainViolation(lower l: Double, upper u: Double) -> String? { nil }

    public func project(_ p: Double, _ q: Double, onto set: RelaxedSet, weightZ: Double,
                        weightY: Double) -> (Double, Double) {
        set.project(p, q, weightZ: weightZ, weightY: weightY)
    }

    public func projectPairs(_ sets: [RelaxedSet], z: inout [Double], y: inout [Double], weightZ: Double,
                             weightY: Double) {
        let n = sets.count
        guard n > 0 else { return }
        for c in 0..<min(z.count, y.count) / n {
            for (i, set) in sets.enumerated() {
                let idx = i + c * n
                (z[idx], y[idx]) = project(z[idx], y[idx], onto: set, weightZ: weightZ, weightY: weightY)
            }
        }
    }

    /// The relaxed set for any bounds: unconstrained when they are not finite,
    /// crossed, or leave the domain (every bound through it is then −∞).
    public func relaxation(lower l: Double, upper u: Double) -> RelaxedSet {
        guard l.isFinite, u.isFinite, l <= u, domainViolation(lower: l, upper: u) == nil else {
            return .unconstrained(lower: l, upper: u)
        }
        return relaxedSet(lower: l, upper: u)
    }

    /// The interval for any bounds: everything when they are not finite or leave the domain.
    public func checkedInterval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        guard !l.isNaN, !u.isNaN, l <= u, domainViolation(lower: l, upper: u) == nil else {
            return (-.infinity, .infinity)
        }
        return interval(lower: l, upper: u)
    }
}

/// The largest errors of glibc's libm functions, in ulps, as its manual's
/// table of known maximum errors lists them for x86_64 (double), each rounded
/// up and then doubled so that other targets and versions stay covered. A
/// value that enters a bound is widened outward by this many ulps of itself.
public enum LibmError {
    public static let exp = 4.0      // glibc: 1 ulp
    public static let tanh = 8.0     // glibc: 2 ulps
    public static let log1p = 4.0    // glibc: 1 ulp
    public static let sinCos = 4.0   // glibc: 1 ulp
    public static let tan = 4.0      // glibc: 1 ulp (not used for bounds yet)
    public static let sqrt = 1.0     // IEEE 754: correctly rounded
    public static let division = 1.0 // IEEE 754: correctly rounded

    /// v lowered by `ulps` units in its last place, and a little more below
    /// the normal range (where an ulp is absolute).
    @inline(__always)
    public static func down(_ v: Double, _ ulps: Double) -> Double {
        v - ulps * Double.ulpOfOne * abs(v) - 4 * Double.leastNormalMagnitude
    }

    @inline(__always)
    public static func up(_ v: Double, _ ulps: Double) -> Double {
        v + ulps * Double.ulpOfOne * abs(v) + 4 * Double.leastNormalMagnitude
    }
}

/// The operators the ONNX importer knows, by the ONNX op type that maps to
/// each (attributes and constant inputs are read by the importer).
public enum OperatorTable {
    /// ONNX op types whose operator needs no parameters.
    public static let plain: [String: any ElementwiseOperator] = [
        "Relu": ReLU(), "Tanh": Tanh(), "Sigmoid": Sigmoid(), "Softplus": Softplus(),
        "Exp": Exp(), "Sin": Sinusoid.sine, "Cos": Sinusoid.cosine, "Sqrt": SquareRoot(), "Reciprocal": Reciprocal(),
    ]
}
