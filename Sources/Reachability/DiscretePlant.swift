import Foundation

/// x_{k+1} = g(x_k, u_k), one expression per state (`[plant] type = "discrete"`),
/// over named states, inputs (the controller's outputs after saturation) and
/// constants (`[plant.constants]`).
public struct DiscretePlant: Sendable {
    public let states: [String]
    public let inputs: [String]
    public let next: [ScalarExpression]
    public let constants: [String: Double]

    /// One step with libm's values (the simulator's plant).
    public func step(_ x: [Double], _ u: [Double]) -> [Double] {
        var env = constants
        for (name, v) in zip(states, x) { env[name] = v }
        for (name, v) in zip(inputs, u) { env[name] = v }
        return next.map { $0.value(env) }
    }

    /// Reads `states`, `inputs`, `next` and `[plant.constants]`; `controls` is the
    /// controller's output count. Errors name the file, the key, the index and the column.
    static func parse(_ t: [String: TOMLValue], controls m: Int, file: String) throws -> DiscretePlant {
        func fail(_ key: String, _ m: String) -> SystemError { SystemError("\(file): [plant] \(key): \(m)") }
        func names(_ key: String) throws -> [String] {
            guard let v = t[key] else { return [] }
            guard let list = v.array else { throw fail(key, "must be an array of names") }
            return try list.enumerated().map { i, x in
                guard let s = x.string, Self.isName(s) else {
                    throw fail("\(key)[\(i)]", "must be a name (a letter or _, then letters, digits or _)")
                }
                guard ExpressionFunction(rawValue: s) == nil else {
                    throw fail("\(key)[\(i)]", "\"\(s)\" is a function")
                }
                return s
            }
        }
        let states = try names("states"), inputs = try names("inputs")
        guard !states.isEmpty else { throw fail("states", "missing or empty for type = \"discrete\"") }
        guard inputs.count == m else {
            throw fail("inputs", "names \(inputs.count) inputs; the controller gives \(m) outputs")
        }
        var constants: [String: Double] = [:]
        if let c = t["constants"] {
            guard let table = c.table else { throw fail("constants", "must be a table of numbers") }
            for (k, v) in table {
                guard Self.isName(k), let x = v.number, x.isFinite else {
                    throw fail("constants.\(k)", "must be a finite number")
                }
                constants[k] = x
            }
        }
        let all = states + inputs + constants.keys.sorted()
        if let dup = all.first(where: { n in all.filter { $0 == n }.count > 1 }) {
            throw fail("states", "\"\(dup)\" is named twice among states, inputs and constants")
        }
        guard let list = t["next"]?.array else { throw fail("next", "missing: one expression per state") }
        guard list.count == states.count else {
            throw fail("next", "has \(list.count) expressions; there are \(states.count) states")
        }
        let known = Set(all)
        let next = try list.enumerated().map { i, v -> ScalarExpression in
            guard let text = v.string else { throw fail("next[\(i)]", "must be a string") }
            do { return try ExpressionParser.parse(text, names: known) } catch { throw fail("next[\(i)]", "\(error)") }
        }
        return DiscretePlant(states: states, inputs: inputs, next: next, constants: constants)
    }

    static func isName(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
