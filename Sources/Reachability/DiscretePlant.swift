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
        let fields = PlantFields(table: t, file: file)
        let states = try fields.names("states"), inputs = try fields.names("inputs")
        guard !states.isEmpty else { throw fields.fail("states", "missing or empty for type = \"discrete\"") }
        guard inputs.count == m else {
            throw fields.fail("inputs", "names \(inputs.count) inputs; the controller gives \(m) outputs")
        }
        let constants = try fields.constants()
        let known = try fields.distinct(states + inputs + constants.keys.sorted())
        let next = try fields.expressions("next", count: states.count, what: "state", names: known)
        return DiscretePlant(states: states, inputs: inputs, next: next, constants: constants)
    }

    static func isName(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}

/// The keys that discrete and ODE plants share: name lists, constants and
/// expression lists, with errors naming the file, the key, the index and the column.
struct PlantFields {
    let table: [String: TOMLValue]
    let file: String

    func fail(_ key: String, _ m: String) -> SystemError { SystemError("\(file): [plant] \(key): \(m)") }

    func names(_ key: String) throws -> [String] {
        guard let v = table[key] else { return [] }
        guard let list = v.array else { throw fail(key, "must be an array of names") }
        return try list.enumerated().map { i, x in
            guard let s = x.string, DiscretePlant.isName(s) else {
                throw fail("\(key)[\(i)]", "must be a name (a letter or _, then letters, digits or _)")
            }
            guard ExpressionFunction(rawValue: s) == nil else { throw fail("\(key)[\(i)]", "\"\(s)\" is a function") }
            return s
        }
    }

    func constants() throws -> [String: Double] {
        guard let c = table["constants"] else { return [:] }
        guard let t = c.table else { throw fail("constants", "must be a table of numbers") }
        var out: [String: Double] = [:]
        for (k, v) in t {
            guard DiscretePlant.isName(k), let x = v.number, x.isFinite else {
                throw fail("constants.\(k)", "must be a finite number")
            }
            out[k] = x
        }
        return out
    }

    /// The names as a set, refusing one named twice.
    func distinct(_ all: [String]) throws -> Set<String> {
        var seen = Set<String>()
        for n in all where !seen.insert(n).inserted {
            throw fail("states", "\"\(n)\" is named twice among states, inputs, disturbances and constants")
        }
        return seen
    }

    func expressions(_ key: String, count: Int, what: String, names: Set<String>) throws -> [ScalarExpression] {
        guard let list = table[key]?.array else { throw fail(key, "missing: one expression per \(what)") }
        guard list.count == count else { throw fail(key, "has \(list.count) expressions; there are \(count) \(what)s") }
        return try list.enumerated().map { i, v -> ScalarExpression in
            guard let text = v.string else { throw fail("\(key)[\(i)]", "must be a string") }
            do { return try ExpressionParser.parse(text, names: names) }
            catch { throw fail("\(key)[\(i)]", "\(error)") }
        }
    }
}
