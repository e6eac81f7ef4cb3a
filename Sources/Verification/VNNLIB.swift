import Foundation

/// A VNN-LIB property: the assertions describe a counterexample, so the
/// property holds ("unsat") when no input satisfies them.
public struct Property: Sendable {
    /// a·y ≤ b (or < b when strict).
    public struct Constraint: Sendable, Equatable {
        public var coefficients: [Double]
        public var bound: Double
        public var strict: Bool
    }

    /// One way to violate the property: an input box and output constraints that must all hold.
    public struct Disjunct: Sendable {
        public var lower: [Double]
        public var upper: [Double]
        public var outputs: [Constraint]
    }

    public var inputCount: Int
    public var outputCount: Int
    public var disjuncts: [Disjunct]
}

public struct VNNLIBError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ file: String, _ line: Int, _ message: String) {
        description = "\(file):\(line): \(message)"
    }
}

/// Reads the VNN-LIB subset that VNN-COMP benchmarks use: declare-const of
/// X_i and Y_i, comments, asserts of <=, >=, <, > between linear terms,
/// and `and` / `or` nesting (input boxes, output constraints, or both).
public enum VNNLIBParser {
    /// Upper bound on disjuncts after expanding to disjunctive normal form.
    public static let maximumDisjuncts = 100_000

    indirect enum Expression {
        case atom(String, line: Int)
        case list([Expression], line: Int)

        var line: Int {
            switch self {
            case .atom(_, let l), .list(_, let l): return l
            }
        }
    }

    /// A linear term over X and Y: Σ cx·X + Σ cy·Y + constant.
    struct Linear {
        var x: [Int: Double] = [:]
        var y: [Int: Double] = [:]
        var constant = 0.0

        static func + (a: Linear, b: Linear) -> Linear {
            var r = a
            for (k, v) in b.x { r.x[k, default: 0] += v }
            for (k, v) in b.y { r.y[k, default: 0] += v }
            r.constant += b.constant
            return r
        }

        func scaled(_ s: Double) -> Linear {
            Linear(x: x.mapValues { $0 * s }, y: y.mapValues { $0 * s }, constant: constant * s)
        }

        var isConstant: Bool { x.values.allSatisfy { $0 == 0 } && y.values.allSatisfy { $0 == 0 } }
    }

    /// lhs ≤ 0 (strict: < 0).
    struct Atom {
        var term: Linear
        var strict: Bool
    }

    public static func parse(path: String) throws -> Property {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VNNLIBError(path, 0, "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw VNNLIBError(path, 0, "not UTF-8 text")
        }
        return try parse(text: text, file: path)
    }

    public static func parse(text: String, file: String = "<property>") throws -> Property {
        let exprs = try read(text, file: file)
        var inputs = Set<Int>(), outputs = Set<Int>()
        var clauses: [[[Atom]]] = []   // conjunction of DNFs
        for e in exprs {
            guard case .list(let items, let line) = e, case .atom(let head, _)? = items.first else {
                throw VNNLIBError(file, e.line, "expected a parenthesised command")
            }
            switch head {
            case "declare-const":
                guard items.count == 3, case .atom(let name, _) = items[1], case .atom(let sort, _) = items[2] else {
                    throw VNNLIBError(file, line, "declare-const needs a name and a sort")
                }
                guard sort == "Real" else { throw VNNLIBError(file, line, "'\(name)' has sort \(sort); only Real is supported") }
                guard let (kind, index) = variable(name) else {
                    throw VNNLIBError(file, line, "'\(name)' is not an X_i or Y_i variable")
                }
                if kind == "X" { inputs.insert(index) } else { outputs.insert(index) }
            case "assert":
                guard items.count == 2 else { throw VNNLIBError(file, line, "assert takes one formula") }
                let dnf = try normalForm(items[1], file: file, inputs: inputs, outputs: outputs)
                clauses.append(dnf)
            default:
                throw VNNLIBError(file, line, "unsupported command '\(head)'")
            }
        }
        guard !inputs.isEmpty else { throw VNNLIBError(file, 0, "no input variables X_i are declared") }
        guard !outputs.isEmpty else { throw VNNLIBError(file, 0, "no output variables Y_i are declared") }
        let nIn = (inputs.max() ?? -1) + 1, nOut = (outputs.max() ?? -1) + 1
        guard inputs.count == nIn else { throw VNNLIBError(file, 0, "input variables are not X_0 ... X_\(nIn - 1)") }
        guard outputs.count == nOut else { throw VNNLIBError(file, 0, "output variables are not Y_0 ... Y_\(nOut - 1)") }

        // Conjunction of DNFs, expanded.
        var product: [[Atom]] = [[]]
        for dnf in clauses {
            guard product.count * max(1, dnf.count) <= maximumDisjuncts else {
                throw VNNLIBError(file, 0, "the property expands to more than \(maximumDisjuncts) cases")
            }
            product = product.flatMap { left in dnf.map { left + $0 } }
        }
        var disjuncts: [Property.Disjunct] = []
        for conj in product {
            var lower = [Double](repeating: -.infinity, count: nIn)
            var upper = [Double](repeating: .infinity, count: nIn)
            var cons: [Property.Constraint] = []
            for atom in conj {
                let t = atom.term
                let xs = t.x.filter { $0.value != 0 }
                let ys = t.y.filter { $0.value != 0 }
                if !xs.isEmpty && !ys.isEmpty {
                    throw VNNLIBError(file, 0, "a constraint mixes inputs and outputs; not supported")
                }
                if xs.count > 1 { throw VNNLIBError(file, 0, "a constraint couples several inputs; only boxes are supported") }
                if let (i, a) = xs.first {
                    // a·X_i + c ≤ 0
                    let v = -t.constant / a
                    if a > 0 { upper[i] = min(upper[i], v) } else { lower[i] = max(lower[i], v) }
                } else if !ys.isEmpty {
                    var coeff = [Double](repeating: 0, count: nOut)
                    for (j, a) in ys { coeff[j] = a }
                    cons.append(Property.Constraint(coefficients: coeff, bound: -t.constant, strict: atom.strict))
                } else if t.constant > 0 || (atom.strict && t.constant >= 0) {
                    cons.append(Property.Constraint(coefficients: [Double](repeating: 0, count: nOut),
                                                    bound: -t.constant, strict: atom.strict))
                }
            }
            for i in 0..<nIn {
                guard lower[i].isFinite, upper[i].isFinite else {
                    throw VNNLIBError(file, 0, "input X_\(i) is not bounded on both sides in every case")
                }
            }
            // An empty input box means this case cannot happen.
            if (0..<nIn).contains(where: { lower[$0] > upper[$0] }) { continue }
            disjuncts.append(Property.Disjunct(lower: lower, upper: upper, outputs: cons))
        }
        return Property(inputCount: nIn, outputCount: nOut, disjuncts: disjuncts)
    }

    static func variable(_ name: String) -> (String, Int)? {
        let parts = name.split(separator: "_")
        guard parts.count == 2, let i = Int(parts[1]), i >= 0, i < 1 << 20 else { return nil }
        let kind = String(parts[0])
        return kind == "X" || kind == "Y" ? (kind, i) : nil
    }

    static func normalForm(_ e: Expression, file: String, inputs: Set<Int>, outputs: Set<Int>) throws -> [[Atom]] {
        guard case .list(let items, let line) = e, case .atom(let op, _)? = items.first else {
            throw VNNLIBError(file, e.line, "expected a formula")
        }
        let args = Array(items.dropFirst())
        switch op {
        case "and":
            var acc: [[Atom]] = [[]]
            for a in args {
                let d = try normalForm(a, file: file, inputs: inputs, outputs: outputs)
                guard acc.count * max(1, d.count) <= maximumDisjuncts else {
                    throw VNNLIBError(file, line, "formula expands to more than \(maximumDisjuncts) cases")
                }
                acc = acc.flatMap { l in d.map { l + $0 } }
            }
            return acc
        case "or":
            var out: [[Atom]] = []
            for a in args { out += try normalForm(a, file: file, inputs: inputs, outputs: outputs) }
            guard out.count <= maximumDisjuncts else {
                throw VNNLIBError(file, line, "formula expands to more than \(maximumDisjuncts) cases")
            }
            return out
        case "<=", ">=", "<", ">":
            guard args.count == 2 else { throw VNNLIBError(file, line, "'\(op)' takes two terms") }
            let a = try linear(args[0], file: file, inputs: inputs, outputs: outputs)
            let b = try linear(args[1], file: file, inputs: inputs, outputs: outputs)
            let term = (op == "<=" || op == "<") ? a + b.scaled(-1) : b + a.scaled(-1)
            return [[Atom(term: term, strict: op == "<" || op == ">")]]
        default:
            throw VNNLIBError(file, line, "unsupported operator '\(op)'")
        }
    }

    static func linear(_ e: Expression, file: String, inputs: Set<Int>, outputs: Set<Int>) throws -> Linear {
        switch e {
        case .atom(let s, let line):
            if let v = Double(s) {
                guard v.isFinite else { throw VNNLIBError(file, line, "'\(s)' is not a finite number") }
                return Linear(constant: v)
            }
            guard let (kind, i) = variable(s) else { throw VNNLIBError(file, line, "unknown symbol '\(s)'") }
            if kind == "X" {
                guard inputs.contains(i) else { throw VNNLIBError(file, line, "'\(s)' is used before its declare-const") }
                return Linear(x: [i: 1])
            }
            guard outputs.contains(i) else { throw VNNLIBError(file, line, "'\(s)' is used before its declare-const") }
            return Linear(y: [i: 1])
        case .list(let items, let line):
            guard case .atom(let op, _)? = items.first else { throw VNNLIBError(file, line, "expected a term") }
            let args = try items.dropFirst().map { try linear($0, file: file, inputs: inputs, outputs: outputs) }
            switch op {
            case "+":
                return args.reduce(Linear(), +)
            case "-":
                guard let first = args.first else { throw VNNLIBError(file, line, "'-' needs a term") }
                if args.count == 1 { return first.scaled(-1) }
                return args.dropFirst().reduce(first) { $0 + $1.scaled(-1) }
            case "*":
                guard args.count == 2 else { throw VNNLIBError(file, line, "'*' takes two terms") }
                if args[0].isConstant { return args[1].scaled(args[0].constant) }
                if args[1].isConstant { return args[0].scaled(args[1].constant) }
                throw VNNLIBError(file, line, "product of two variables is not linear")
            default:
                throw VNNLIBError(file, line, "unsupported term operator '\(op)'")
            }
        }
    }

    /// S-expressions with `;` comments.
    static func read(_ text: String, file: String) throws -> [Expression] {
        var tokens: [(String, Int)] = []
        var line = 1
        var current = ""
        var comment = false
        for ch in text {
            if ch == "\n" {
                line += 1
                comment = false
                if !current.isEmpty { tokens.append((current, line - 1)); current = "" }
                continue
            }
            if comment { continue }
            if ch == ";" {
                if !current.isEmpty { tokens.append((current, line)); current = "" }
                comment = true
            } else if ch == "(" || ch == ")" {
                if !current.isEmpty { tokens.append((current, line)); current = "" }
                tokens.append((String(ch), line))
            } else if ch.isWhitespace {
                if !current.isEmpty { tokens.append((current, line)); current = "" }
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { tokens.append((current, line)) }
        var index = 0
        var stack: [([Expression], Int)] = []
        var top: [Expression] = []
        while index < tokens.count {
            let (t, l) = tokens[index]
            index += 1
            if t == "(" {
                guard stack.count < 256 else { throw VNNLIBError(file, l, "nesting too deep") }
                stack.append(([], l))
            } else if t == ")" {
                guard let (items, start) = stack.popLast() else { throw VNNLIBError(file, l, "unbalanced ')'") }
                let e = Expression.list(items, line: start)
                if stack.isEmpty { top.append(e) } else { stack[stack.count - 1].0.append(e) }
            } else {
                guard !stack.isEmpty else { throw VNNLIBError(file, l, "'\(t)' outside parentheses") }
                stack[stack.count - 1].0.append(.atom(t, line: l))
            }
        }
        if let (_, start) = stack.last { throw VNNLIBError(file, start, "unclosed '(' ") }
        return top
    }
}
