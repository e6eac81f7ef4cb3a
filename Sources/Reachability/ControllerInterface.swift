import Foundation
import LinearAlgebra
import Network

/// What stands between the state and the network, and between the network and
/// the saturation ([controller] inputs, output_scale, output_offset):
/// u = clip(s ⊙ net(P x + q) + o, u_min, u_max). Both maps are folded into the
/// controller's graph, so the unrolled loop, the simulator and the daemon see one network.
struct ControllerInterface {
    /// P (network inputs × states) and q, from `inputs`; nil: the state itself.
    var inputMap: (weight: Matrix, bias: [Double])?
    var scale: [Double]?
    var offset: [Double]?

    var isIdentity: Bool { inputMap == nil && scale == nil && offset == nil }

    /// Parses `inputs`: affine expressions of the named states and constants, one per
    /// network input. Coefficients are folded in double precision; that is the map the
    /// analysis covers (as a controller computing in doubles would apply it).
    static func inputMap(_ value: TOMLValue, states: [String], constants: [String: Double],
                         file: String) throws -> (weight: Matrix, bias: [Double]) {
        func fail(_ key: String, _ m: String) -> SystemError { SystemError("\(file): [controller] \(key): \(m)") }
        guard let list = value.array, !list.isEmpty else {
            throw fail("inputs", "must be a non-empty array of expressions")
        }
        let names = Set(states).union(constants.keys)
        var weight = Matrix(rows: list.count, cols: states.count)
        var bias = [Double](repeating: 0, count: list.count)
        for (r, item) in list.enumerated() {
            guard let text = item.string else { throw fail("inputs[\(r)]", "must be a string (an affine expression)") }
            let e: ScalarExpression
            do { e = try ExpressionParser.parse(text, names: names) } catch { throw fail("inputs[\(r)]", "\(error)") }
            guard let form = affine(e, states: states, constants: constants) else {
                throw fail("inputs[\(r)]", "\"\(text)\" is not affine in the states (a sum of constant multiples)")
            }
            guard form.constant.isFinite, form.coefficients.allSatisfy(\.isFinite) else {
                throw fail("inputs[\(r)]", "\"\(text)\" has a coefficient that is not finite")
            }
            for (i, c) in form.coefficients.enumerated() { weight[r, i] = c }
            bias[r] = form.constant
        }
        return (weight, bias)
    }

    /// e as c + Σ a_i x_i, or nil when it is not affine in the states.
    static func affine(_ e: ScalarExpression, states: [String],
                       constants: [String: Double]) -> (constant: Double, coefficients: [Double])? {
        let n = states.count
        func constant(_ c: Double) -> (Double, [Double]) { (c, [Double](repeating: 0, count: n)) }
        func scaled(_ s: Double, _ f: (Double, [Double])) -> (Double, [Double]) { (s * f.0, f.1.map { s * $0 }) }
        func isConstant(_ f: (Double, [Double])) -> Bool { f.1.allSatisfy { $0 == 0 } }
        func walk(_ e: ScalarExpression) -> (Double, [Double])? {
            switch e {
            case .number(let v): return constant(v)
            case .name(let s):
                if let i = states.firstIndex(of: s) {
                    var c = [Double](repeating: 0, count: n)
                    c[i] = 1
                    return (0, c)
                }
                return constants[s].map(constant)
            case .negate(let a): return walk(a).map { scaled(-1, $0) }
            case .add(let a, let b), .subtract(let a, let b):
                guard let x = walk(a), let y = walk(b) else { return nil }
                let sign: Double = if case .add = e { 1 } else { -1 }
                return (x.0 + sign * y.0, zip(x.1, y.1).map { $0 + sign * $1 })
            case .multiply(let a, let b):
                guard let x = walk(a), let y = walk(b) else { return nil }
                if isConstant(x) { return scaled(x.0, y) }
                if isConstant(y) { return scaled(y.0, x) }
                return nil
            case .divide(let a, let b):
                guard let x = walk(a), let y = walk(b), isConstant(y) else { return nil }
                return (x.0 / y.0, x.1.map { $0 / y.0 })
            case .power(let a, let k):
                guard let x = walk(a) else { return nil }
                guard isConstant(x) else { return k == 1 ? x : nil }
                var v = 1.0
                for _ in 0..<k.magnitude { v *= x.0 }
                return constant(k < 0 ? 1 / v : v)
            case .call:
                // Not folded: libm is not correctly rounded, so the value would be a guess.
                return nil
            }
        }
        return walk(e)
    }

    /// The controller with the maps folded in: input x (n states), output u before the saturation.
    func folded(_ net: Graph, stateCount n: Int) throws -> Graph {
        if isIdentity { return net }
        var g = Graph()
        let x = g.addInput(name: "state", size: n)
        var source = x
        if let (p, q) = inputMap {
            source = try g.addAffine(name: "controller_inputs", terms: [AffineTerm(input: x, weight: p)], bias: q)
        }
        let inner = source
        var out = try ClosedLoop.embed(net, into: &g, inputTerms: { w in [AffineTerm(input: inner, weight: w)] },
                                       prefix: "")
        if scale != nil || offset != nil {
            let m = net.outputSize
            var s = Matrix(rows: m, cols: m)
            for i in 0..<m { s[i, i] = scale?[i] ?? 1 }
            out = try g.addAffine(name: "controller_output", terms: [AffineTerm(input: out, weight: s)],
                                  bias: offset ?? [Double](repeating: 0, count: m))
        }
        g.output = out
        return g
    }
}
