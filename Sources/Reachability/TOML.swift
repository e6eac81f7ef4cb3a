import Foundation

/// A TOML value. ReachGuard reads its system descriptions with this small
/// parser (TOML 1.0 minus dates and multi-line strings): TOMLKit, the package
/// on the mirror, depends on a package the mirror lacks.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table([String: TOMLValue])

    public var table: [String: TOMLValue]? { if case .table(let t) = self { return t }; return nil }
    public var array: [TOMLValue]? { if case .array(let a) = self { return a }; return nil }
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var number: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .float(let f): return f
        default: return nil
        }
    }
    public var integer: Int? { if case .integer(let i) = self { return i }; return nil }
    public var boolean: Bool? { if case .boolean(let b) = self { return b }; return nil }
}

public struct TOMLError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

public enum TOMLParser {
    public static let maximumSize = 4 << 20

    public static func parse(_ text: String, file: String = "<toml>") throws -> [String: TOMLValue] {
        guard text.utf8.count <= maximumSize else {
            throw TOMLError(description: "\(file): larger than \(maximumSize) bytes")
        }
        var p = Parser(chars: Array(text.unicodeScalars), file: file)
        return try p.document()
    }

    struct Parser {
        let chars: [Unicode.Scalar]
        let file: String
        var i = 0
        var line = 1
        var root: [String: TOMLValue] = [:]
        var current: [String] = []            // path of the current table
        var definedTables = Set<[String]>()

        init(chars: [Unicode.Scalar], file: String) {
            self.chars = chars
            self.file = file
        }

        func fail(_ m: String) -> TOMLError { TOMLError(description: "\(file):\(line): \(m)") }

        var atEnd: Bool { i >= chars.count }
        var peek: Unicode.Scalar? { atEnd ? nil : chars[i] }

        mutating func skipSpaces() {
            while let c = peek, c == " " || c == "\t" { i += 1 }
        }

        mutating func skipComment() {
            if peek == "#" { while let c = peek, c != "\n" { i += 1 } }
        }

        /// Spaces, comments and newlines (inside arrays).
        mutating func skipBlank() {
            while let c = peek {
                if c == " " || c == "\t" || c == "\r" { i += 1 }
                else if c == "\n" { i += 1; line += 1 }
                else if c == "#" { skipComment() }
                else { break }
            }
        }

        mutating func endOfLine() throws {
            skipSpaces()
            skipComment()
            if peek == "\r" { i += 1 }
            if atEnd { return }
            guard peek == "\n" else { throw fail("unexpected '\(peek.map(String.init) ?? "")' after a value") }
            i += 1
            line += 1
        }

        mutating func document() throws -> [String: TOMLValue] {
            while true {
                skipBlank()
                guard let c = peek else { break }
                if c == "[" {
                    i += 1
                    let isArray = peek == "["
                    if isArray { i += 1 }
                    skipSpaces()
                    let path = try key()
                    skipSpaces()
                    guard peek == "]" else { throw fail("expected ']' after a table name") }
                    i += 1
                    if isArray {
                        guard peek == "]" else { throw fail("expected ']]'") }
                        i += 1
                        try appendTable(path)
                    } else {
                        guard !definedTables.contains(path) else { throw fail("table [\(path.joined(separator: "."))] defined twice") }
                        definedTables.insert(path)
                        try ensureTable(path)
                    }
                    current = path
                    try endOfLine()
                } else {
                    let k = try key()
                    skipSpaces()
                    guard peek == "=" else { throw fail("expected '=' after key '\(k.joined(separator: "."))'") }
                    i += 1
                    skipSpaces()
                    let v = try value(depth: 0)
                    try assign(current + k, v)
                    try endOfLine()
                }
            }
            return root
        }

        mutating func key() throws -> [String] {
            var parts: [String] = []
            while true {
                skipSpaces()
                if peek == "\"" || peek == "'" {
                    parts.append(try stringLiteral())
                } else {
                    var s = ""
                    while let c = peek, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-" {
                        s.unicodeScalars.append(c)
                        i += 1
                    }
                    guard !s.isEmpty else { throw fail("expected a key") }
                    parts.append(s)
                }
                skipSpaces()
                if peek == "." { i += 1; continue }
                return parts
            }
        }

        mutating func stringLiteral() throws -> String {
            guard let q = peek else { throw fail("expected a string") }
            i += 1
            var s = ""
            while true {
                guard let c = peek, c != "\n" else { throw fail("unterminated string") }
                i += 1
                if c == q { return s }
                if q == "\"" && c == "\\" {
                    guard let e = peek else { throw fail("unterminated string") }
                    i += 1
                    switch e {
                    case "n": s += "\n"
                    case "t": s += "\t"
                    case "r": s += "\r"
                    case "\\": s += "\\"
                    case "\"": s += "\""
                    case "u", "U":
                        let n = e == "u" ? 4 : 8
                        guard i + n <= chars.count else { throw fail("bad escape") }
                        let hex = String(String.UnicodeScalarView(chars[i..<(i + n)]))
                        guard let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { throw fail("bad escape \\\(e)\(hex)") }
                        s.unicodeScalars.append(scalar)
                        i += n
                    default: throw fail("unknown escape \\\(e)")
                    }
                } else {
                    s.unicodeScalars.append(c)
                }
            }
        }

        mutating func value(depth: Int) throws -> TOMLValue {
            guard depth < 64 else { throw fail("values nested too deeply") }
            guard let c = peek else { throw fail("expected a value") }
            switch c {
            case "\"", "'":
                return .string(try stringLiteral())
            case "[":
                i += 1
                var items: [TOMLValue] = []
                while true {
                    skipBlank()
                    if peek == "]" { i += 1; return .array(items) }
                    items.append(try value(depth: depth + 1))
                    skipBlank()
                    if peek == "," { i += 1; continue }
                    skipBlank()
                    guard peek == "]" else { throw fail("expected ',' or ']' in an array") }
                    i += 1
                    return .array(items)
                }
            case "{":
                i += 1
                var t: [String: TOMLValue] = [:]
                skipSpaces()
                if peek == "}" { i += 1; return .table(t) }
                while true {
                    skipSpaces()
                    let k = try key()
                    skipSpaces()
                    guard peek == "=" else { throw fail("expected '=' in an inline table") }
                    i += 1
                    skipSpaces()
                    let v = try value(depth: depth + 1)
                    try Self.insert(&t, k, v, fail: fail)
                    skipSpaces()
                    if peek == "," { i += 1; continue }
                    guard peek == "}" else { throw fail("expected ',' or '}' in an inline table") }
                    i += 1
                    return .table(t)
                }
            default:
                var s = ""
                while let ch = peek, !(ch == "," || ch == "]" || ch == "}" || ch == " " || ch == "\t" || ch == "\n" || ch == "\r" || ch == "#") {
                    s.unicodeScalars.append(ch)
                    i += 1
                }
                if s == "true" { return .boolean(true) }
                if s == "false" { return .boolean(false) }
                let clean = s.replacingOccurrences(of: "_", with: "")
                if let v = Int(clean) { return .integer(v) }
                if ["inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(clean) {
                    return .float(clean.hasPrefix("-") ? -.infinity : (clean.hasSuffix("nan") ? .nan : .infinity))
                }
                if let v = Double(clean), clean.contains(where: { "0123456789".contains($0) }) { return .float(v) }
                throw fail("'\(s)' is not a TOML value")
            }
        }

        static func insert(_ t: inout [String: TOMLValue], _ path: [String], _ v: TOMLValue,
                           fail: (String) -> TOMLError) throws {
            guard let head = path.first else { return }
            if path.count == 1 {
                guard t[head] == nil else { throw fail("key '\(head)' defined twice") }
                t[head] = v
                return
            }
            var sub = t[head]?.table ?? [:]
            if let existing = t[head], existing.table == nil { throw fail("'\(head)' is not a table") }
            try insert(&sub, Array(path.dropFirst()), v, fail: fail)
            t[head] = .table(sub)
        }

        mutating func assign(_ path: [String], _ v: TOMLValue) throws {
            let f = fail
            try Self.update(&root, path, fail: f) { slot in
                guard slot == nil else { throw f("key '\(path.joined(separator: "."))' defined twice") }
                slot = v
            }
        }

        mutating func ensureTable(_ path: [String]) throws {
            let f = fail
            try Self.update(&root, path, fail: f) { slot in
                if slot == nil { slot = .table([:]) }
                else if slot?.table == nil { throw f("'\(path.joined(separator: "."))' is not a table") }
            }
        }

        mutating func appendTable(_ path: [String]) throws {
            let f = fail
            try Self.update(&root, path, fail: f) { slot in
                var list = slot?.array ?? []
                if slot != nil && slot?.array == nil { throw f("'\(path.joined(separator: "."))' is not an array of tables") }
                list.append(.table([:]))
                slot = .array(list)
            }
        }

        /// Walks to `path`, descending into the last table of arrays of tables.
        static func update(_ t: inout [String: TOMLValue], _ path: [String], fail: (String) -> TOMLError,
                           _ body: (inout TOMLValue?) throws -> Void) throws {
            guard let head = path.first else { return }
            if path.count == 1 {
                var slot = t[head]
                try body(&slot)
                t[head] = slot
                return
            }
            switch t[head] {
            case nil:
                var sub: [String: TOMLValue] = [:]
                try update(&sub, Array(path.dropFirst()), fail: fail, body)
                t[head] = .table(sub)
            case .table(var sub)?:
                try update(&sub, Array(path.dropFirst()), fail: fail, body)
                t[head] = .table(sub)
            case .array(var list)?:
                guard case .table(var sub)? = list.last else { throw fail("'\(head)' is not a table") }
                try update(&sub, Array(path.dropFirst()), fail: fail, body)
                list[list.count - 1] = .table(sub)
                t[head] = .array(list)
            default:
                throw fail("'\(head)' is not a table")
            }
        }
    }
}
