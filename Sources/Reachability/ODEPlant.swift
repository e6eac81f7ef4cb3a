import Foundation

/// x' = f(x, u, w) in continuous time (`[plant] type = "ode"`), u and w held
/// over each control period (zero-order hold). Each period is `substeps` equal
/// steps of length h = period / substeps; over one step the flow is
///   x(h) = T(x) + R,  T(x) = x + Σ_{k=1..p} ĉ_k (L^{k−1} f)(x),
/// where ĉ_k is h^k/k! rounded, and R, the remainder, holds the Lagrange term
/// h^{p+1}/(p+1)! (L^p f)(ξ) (ξ in the a-priori enclosure of the step) plus the
/// coefficients' rounding (h^k/k! − ĉ_k)(L^{k−1} f)(x). T joins the unrolled
/// graph as operator and product nodes; R joins as a bounded input.
public struct ODEPlant: Sendable {
    public let states: [String]
    public let inputs: [String]
    public let disturbances: [String]
    public let dynamics: [ScalarExpression]
    public let constants: [String: Double]
    public let period: Double
    public let substeps: Int
    public let integrator: TaylorIntegrator
    /// One step's Taylor polynomial T, per state (coefficients ĉ_k as numbers).
    public let taylor: [ScalarExpression]
    /// Enclosures of h^k/k! − ĉ_k, k = 1...p, and of h^{p+1}/(p+1)!.
    let coefficientErrors: [Span]
    let remainderCoefficient: Span
    /// |ĉ_k|, for the folding slack.
    let coefficientMagnitude: [Double]
    /// h, rounded up: the a-priori enclosure holds [0, h] for the true h.
    let stepUpper: Double

    /// Taylor order by default: three derivatives follow the curvature of sin/cos
    /// plants well at h ≈ 0.05 s; the remainder is O(h⁴).
    public static let defaultOrder = 3
    /// Default sub-step count keeps h·‖∂f/∂x‖∞ (at the constants, states 0) at most this.
    /// Measured on the pendulum (h‖J‖ = 0.98), 20 steps: one sub-step gives the same last-step
    /// width as two (0.00143 against 0.00140) at two thirds of the time.
    public static let stiffnessPerStep = 1.0
    public static let substepRange = 1...64
    /// Weights of the compiled polynomial fold the file's constants with ĉ_k, each
    /// fold rounded: a relative slack of this size on the polynomial's terms covers
    /// them (chains of constants in Lie derivatives are far below 45 roundings).
    static let foldingSlack = 1e-14

    init(states: [String], inputs: [String], disturbances: [String], dynamics: [ScalarExpression],
         constants: [String: Double], period: Double, substeps: Int?, order: Int) {
        self.states = states
        self.inputs = inputs
        self.disturbances = disturbances
        self.dynamics = dynamics
        self.constants = constants
        self.period = period
        let integrator = TaylorIntegrator(states: states, field: dynamics, order: order)
        self.integrator = integrator
        let s = substeps ?? Self.defaultSubsteps(integrator, constants: constants, period: period)
        self.substeps = s
        let h = period / Double(s)
        let hSpan = Span.outward(h, h)
        stepUpper = hSpan.upper
        var coefficient = Span.point(1)
        var errors: [Span] = []
        var polynomial = states.map { ScalarExpression.name($0) }
        for k in 1...integrator.order {
            coefficient = (coefficient * hSpan).divided(by: Double(k))
            let used = coefficient.lower
            errors.append(coefficient - .point(used))
            for i in states.indices {
                polynomial[i] = .add(polynomial[i], .multiply(.number(used), integrator.lie[k - 1][i]))
            }
        }
        coefficientErrors = errors
        coefficientMagnitude = errors.indices.map { k in
            (1...(k + 1)).reduce(1.0) { $0 * hSpan.upper / Double($1) }
        }
        remainderCoefficient = (coefficient * hSpan).divided(by: Double(integrator.order + 1))
        taylor = polynomial
    }

    /// The environment of fixed names over a step: inputs, disturbances, constants.
    func fixed(inputs u: [Span], disturbances w: [Span]) -> [String: Span] {
        var env = constants.mapValues { Span.point($0) }
        for (name, s) in zip(inputs, u) { env[name] = s }
        for (name, s) in zip(disturbances, w) { env[name] = s }
        return env
    }

    /// One sub-step from the box x: the remainder R and the enclosure of the
    /// whole sub-step, or nil when no a-priori enclosure is found.
    public func remainder(_ x: [Span], inputs u: [Span],
                          disturbances w: [Span]) -> (remainder: [Span], whole: [Span])? {
        let env = fixed(inputs: u, disturbances: w)
        guard let b = integrator.apriori(x, fixed: env, h: stepUpper),
              let last = integrator.fieldBox(integrator.order, b, env) else { return nil }
        var r = last.map { remainderCoefficient * $0 }
        var magnitude = [Double](repeating: 0, count: states.count)
        for k in 1...integrator.order {
            guard let term = integrator.fieldBox(k - 1, x, env) else { return nil }
            for i in states.indices {
                r[i] = r[i] + coefficientErrors[k - 1] * term[i]
                magnitude[i] += max(abs(term[i].lower), abs(term[i].upper)) * coefficientMagnitude[k - 1]
            }
        }
        for i in states.indices {
            let slack = Self.foldingSlack * (magnitude[i] + max(abs(x[i].lower), abs(x[i].upper)))
            r[i] = r[i] + Span(-slack, slack)
        }
        guard r.allSatisfy(\.isFinite) else { return nil }
        return (r, whole(x, b, env))
    }

    /// x + [0, h]·f(X) + [0, h²/2]·(L f)(B), intersected with B: the second-order
    /// Taylor enclosure over the step is much tighter than B for short steps.
    func whole(_ x: [Span], _ b: [Span], _ env: [String: Span]) -> [Span] {
        guard integrator.order >= 1, let f = integrator.fieldBox(0, x, env),
              let lf = integrator.fieldBox(1, b, env) else { return b }
        let time = Span(0, stepUpper), half = (Span(0, stepUpper) * Span(0, stepUpper)).divided(by: 2)
        return states.indices.map { i in
            let t = x[i] + time * f[i] + half * lf[i]
            return Span(max(t.lower, b[i].lower), min(t.upper, b[i].upper))
        }
    }

    /// Sub-steps so that h·‖∂f/∂x‖∞ ≤ `stiffnessPerStep` at states 0, inputs 0 and the constants.
    static func defaultSubsteps(_ integrator: TaylorIntegrator, constants: [String: Double], period: Double) -> Int {
        var env = constants
        for s in integrator.states { env[s] = 0 }
        var norm = 0.0
        for f in integrator.field {
            let row = integrator.states.reduce(0.0) { total, s in
                let v = f.derivative(s).value(env)
                return total + (v.isFinite ? abs(v) : 0)
            }
            norm = max(norm, row)
        }
        let s = (period * norm / stiffnessPerStep).rounded(.up)
        guard s.isFinite else { return substepRange.upperBound }
        return min(substepRange.upperBound, max(substepRange.lowerBound, Int(s)))
    }

    /// The true flow over one period from x with u and w held (Dormand–Prince
    /// 5(4), tight tolerance): the simulator's plant, and the witness of `unsafe`.
    public func flow(_ x: [Double], inputs u: [Double], disturbances w: [Double],
                     observe: (([Double]) -> Void)? = nil) -> (state: [Double], error: Double) {
        var env = constants
        for (name, v) in zip(inputs, u) { env[name] = v }
        for (name, v) in zip(disturbances, w) { env[name] = v }
        let field: ([Double]) -> [Double] = { x in
            var e = env
            for (name, v) in zip(self.states, x) { e[name] = v }
            return self.dynamics.map { $0.value(e) }
        }
        return DormandPrince.integrate(field, from: x, over: period, observe: observe)
    }

    /// Reads `states`, `inputs`, `disturbances`, `dynamics`, `period` and
    /// `[plant.constants]`, and `[reach] substeps` / `taylor_order`.
    static func parse(_ t: [String: TOMLValue], reach: [String: TOMLValue], controls m: Int,
                      file: String) throws -> ODEPlant {
        let fields = PlantFields(table: t, file: file)
        let states = try fields.names("states"), inputs = try fields.names("inputs")
        let disturbances = try fields.names("disturbances")
        guard !states.isEmpty else { throw fields.fail("states", "missing or empty for type = \"ode\"") }
        guard inputs.count == m else {
            throw fields.fail("inputs", "names \(inputs.count) inputs; the controller gives \(m) outputs")
        }
        guard let p = t["period"]?.number, p.isFinite, p > 0, p <= 3600 else {
            throw fields.fail("period", "missing, or not a number of seconds in (0, 3600]")
        }
        let constants = try fields.constants()
        let known = try fields.distinct(states + inputs + disturbances + constants.keys.sorted())
        let dynamics = try fields.expressions("dynamics", count: states.count, what: "state", names: known)
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = reach[key] else { return nil }
            guard let k = v.integer, range.contains(k) else {
                let text = "must be an integer from \(range.lowerBound) to \(range.upperBound)"
                throw SystemError("\(file): [reach] \(key): \(text)")
            }
            return k
        }
        let substeps = try integer("substeps", substepRange)
        let order = try integer("taylor_order", 1...6) ?? defaultOrder
        return ODEPlant(states: states, inputs: inputs, disturbances: disturbances, dynamics: dynamics,
                        constants: constants, period: p, substeps: substeps, order: order)
    }
}

extension Span {
    /// self / k for a positive integer k, outward.
    func divided(by k: Double) -> Span { Span.outward(lower / k, upper / k) }
}
