import Foundation

/// One scalar expression of a system file (a plant's dynamics, a controller
/// input): numbers, names of states, inputs, disturbances and constants,
/// `+ - * /`, `^` with an integer exponent, unary minus, parentheses, and the
/// functions of `ExpressionFunction`.
public indirect enum ScalarExpression: Sendable, Hashable {
    case number(Double)
    case name(String)
    case negate(ScalarExpression)
    case add(ScalarExpression, ScalarExpression)
    case subtract(ScalarExpression, ScalarExpression)
    case multiply(ScalarExpression, ScalarExpression)
    case divide(ScalarExpression, ScalarExpression)
    case power(ScalarExpression, Int)
    case call(ExpressionFunction, ScalarExpression)

    /// The value for the given names (the simulator's plant; libm's values).
    public func value(_ env: [String: Double]) -> Double {
        switch self {
        case .number(let v): return v
        case .name(let n): return env[n] ?? .nan
        case .negate(let e): return -e.value(env)
        case .add(let a, let b): return a.value(env) + b.value(env)
        case .subtract(let a, let b): return a.value(env) - b.value(env)
        case .multiply(let a, let b): return a.value(env) * b.value(env)
        case .divide(let a, let b): return a.value(env) / b.value(env)
        case .power(let e, let k): return Foundation.pow(e.value(env), Double(k))
        case .call(let f, let e): return f.value(e.value(env))
        }
    }

    /// The names the expression reads.
    public var names: Set<String> {
        switch self {
        case .number: return []
        case .name(let n): return [n]
        case .negate(let e), .power(let e, _), .call(_, let e): return e.names
        case .add(let a, let b), .subtract(let a, let b), .multiply(let a, let b), .divide(let a, let b):
            return a.names.union(b.names)
        }
    }
}

public enum ExpressionFunction: String, Sendable, CaseIterable, Hashable {
    case sin, cos, tan, exp, sqrt, tanh, sigmoid

    public func value(_ x: Double) -> Double {
        switch self {
        case .sin: return Foundation.sin(x)
        case .cos: return Foundation.cos(x)
        case .tan: return Foundation.tan(x)
        case .exp: return Foundation.exp(x)
        case .sqrt: return x.squareRoot()
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        }
    }
}

/// Why an expression was refused, at a 1-based column of its text.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case empty
        case unexpected(String)
        case unknownName(String)
        case unknownFunction(String)
        case missingClosingParenthesis
        case exponentNotAnInteger
        case exponentOutOfRange(Int)
        case numberOutOfRange(String)
        case tooDeep
    }
    public let column: Int
    public let reason: Reason

    public var description: String {
        let what: String
        switch reason {
        case .empty: what = "empty expression"
        case .unexpected(let s): what = "unexpected \(s)"
        case .unknownName(let n): what = "unknown name \"\(n)\""
        case .unknownFunction(let f):
            let known = ExpressionFunction.allCases.map(\.rawValue).joined(separator: ", ")
            what = "unknown function \"\(f)\" (known: \(known))"
        case .missingClosingParenthesis: what = "missing \")\""
        case .exponentNotAnInteger: what = "the exponent after ^ must be an integer"
        case .exponentOutOfRange(let k): what = "exponent \(k) is outside \(ExpressionParser.exponents)"
        case .numberOutOfRange(let s): what = "number \(s) is not a finite double"
        case .tooDeep: what = "nested deeper than \(ExpressionParser.maximumDepth) levels"
        }
        return "column \(column): \(what)"
    }
}

/// Recursive descent over the grammar
///   sum     := product (("+" | "-") product)*
///   product := unary (("*" | "/") unary)*
///   unary   := "-" unary | "+" unary | power
///   power   := atom ("^" "-"? integer)?
///   atom    := number | name | function "(" sum ")" | "(" sum ")"
/// so `-x^2` is −(x²) and `2^3^2` is refused (write the parentheses).
public struct ExpressionParser {
    /// Integer exponents accepted after `^` (Power's range; 0 and 1 fold away).
    public static let exponents = 0...64
    /// Nesting bound: deeper input is refused before it can exhaust the stack.
    public static let maximumDepth = 64

    let text: [Character]
    let names: Set<String>
    var position = 0
    var depth = 0

    /// Parses `text`, accepting only `names` (states, inputs, disturbances, constants).
    public static func parse(_ text: String, names: Set<String>) throws(ExpressionError) -> ScalarExpression {
        var p = ExpressionParser(text: Array(text), names: names)
        p.skipSpaces()
        guard p.position < p.text.count else { throw ExpressionError(column: 1, reason: .empty) }
        let e = try p.sum()
        p.skipSpaces()
        if p.position < p.text.count { throw p.error(.unexpected("\"\(p.text[p.position])\"")) }
        return e
    }

    func error(_ r: ExpressionError.Reason, at column: Int? = nil) -> ExpressionError {
        ExpressionError(column: column ?? position + 1, reason: r)
    }

    mutating func skipSpaces() {
        while position < text.count, text[position] == " " || text[position] == "\t" { position += 1 }
    }

    mutating func accept(_ c: Character) -> Bool {
        skipSpaces()
        guard position < text.count, text[position] == c else { return false }
        position += 1
        return true
    }

    mutating func sum() throws(ExpressionError) -> ScalarExpression {
        var e = try product()
        while true {
            if accept("+") { e = .add(e, try product()) }
            else if accept("-") { e = .subtract(e, try product()) }
            else { return e }
        }
    }

    mutating func product() throws(ExpressionError) -> ScalarExpression {
        var e = try unary()
        while true {
            if accept("*") { e = .multiply(e, try unary()) }
            else if accept("/") { e = .divide(e, try unary()) }
            else { return e }
        }
    }

    mutating func unary() throws(ExpressionError) -> ScalarExpression {
        try deeper()
        defer { depth -= 1 }
        if accept("-") { return .negate(try unary()) }
        if accept("+") { return try unary() }
        return try power()
    }

    /// One more level of nesting (a sign, a parenthesis, a function), refused past the bound.
    mutating func deeper() throws(ExpressionError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error(.tooDeep) }
    }

    mutating func power() throws(ExpressionError) -> ScalarExpression {
        let base = try atom()
        guard accept("^") else { return base }
        skipSpaces()
        let column = position + 1
        let negative = accept("-")
        skipSpaces()
        let digits = scan { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, position >= text.count || !(text[position] == "." || text[position] == "e") else {
            throw error(.exponentNotAnInteger, at: column)
        }
        guard let k = Int(digits).map({ negative ? -$0 : $0 }), Self.exponents.contains(k) else {
            throw error(.exponentOutOfRange(Int(digits).map { negative ? -$0 : $0 } ?? Int.max), at: column)
        }
        if accept("^") { throw error(.unexpected("\"^\" after an exponent (use parentheses)"), at: position) }
        return .power(base, k)
    }

    mutating func scan(_ keep: (Character) -> Bool) -> String {
        let start = position
        while position < text.count, keep(text[position]) { position += 1 }
        return String(text[start..<position])
    }

    mutating func atom() throws(ExpressionError) -> ScalarExpression {
        skipSpaces()
        guard position < text.count else { throw error(.unexpected("end of the expression")) }
        let column = position + 1
        let c = text[position]
        if accept("(") {
            let e = try sum()
            guard accept(")") else { throw error(.missingClosingParenthesis) }
            return e
        }
        if c.isASCII && (c.isNumber || c == ".") { return try number(column) }
        if c.isASCII && (c.isLetter || c == "_") {
            let word = scan { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            skipSpaces()
            if position < text.count, text[position] == "(" {
                guard let f = ExpressionFunction(rawValue: word) else {
                    throw error(.unknownFunction(word), at: column)
                }
                position += 1
                let e = try sum()
                guard accept(")") else { throw error(.missingClosingParenthesis) }
                return .call(f, e)
            }
            guard names.contains(word) else { throw error(.unknownName(word), at: column) }
            return .name(word)
        }
        throw error(.unexpected("\"\(c)\""))
    }

    /// digits [. digits] [e [+-] digits]
    mutating func number(_ column: Int) throws(ExpressionError) -> ScalarExpression {
        var s = scan { $0.isASCII && $0.isNumber }
        if position < text.count, text[position] == "." {
            position += 1
            s += "." + scan { $0.isASCII && $0.isNumber }
        }
        if position < text.count, text[position] == "e" || text[position] == "E" {
            let mark = position
            position += 1
            var exponent = "e"
            if position < text.count, text[position] == "+" || text[position] == "-" {
                exponent.append(text[position])
                position += 1
            }
            let digits = scan { $0.isASCII && $0.isNumber }
            if digits.isEmpty { position = mark } else { s += exponent + digits }
        }
        guard s != ".", let v = Double(s), v.isFinite else { throw error(.numberOutOfRange(s), at: column) }
        return .number(v)
    }
}
