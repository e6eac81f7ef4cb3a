import Foundation
import LinearAlgebra
import Network
import Splitting

public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A closed loop as the TOML system file describes it: x' = A x + B u + c + w
/// (or a learned one-step network), u = clip(controller(x), u_min, u_max).
public struct SystemDescription: Sendable {
    public enum Plant: Sendable {
        case linear(a: Matrix, b: Matrix?, c: [Double])
        /// A learned one-step model; `takesControl`: its input is [x; u], else x.
        case network(model: Graph, path: String, takesControl: Bool)
        /// x_{k+1} = g(x_k, u_k) written as expressions.
        case discrete(DiscretePlant)
        /// x' = f(x, u, w) written as expressions, u and w held over each period.
        case ode(ODEPlant)

        /// The states' names, for plants written as expressions.
        var stateNames: [String]? {
            switch self {
            case .discrete(let p): return p.states
            case .ode(let p): return p.states
            case .linear, .network: return nil
            }
        }

        var constants: [String: Double]? {
            switch self {
            case .discrete(let p): return p.constants
            case .ode(let p): return p.constants
            case .linear, .network: return nil
            }
        }
    }

    /// Which part of the trajectory an unsafe set is checked against.
    public enum UnsafeMode: String, Sendable {
        /// The state at the sample times k·period only.
        case sample
        /// The whole period ending at step k (ODE plants).
        case interval
    }

    public enum Directions: Sendable, Equatable {
        case box
        case octagon
        case rows([[Double]])
    }

    public enum Strategy: String, Sendable, CaseIterable {
        case oneShot = "one-shot"
        case recursive
    }

    public struct UnsafeSet: Sendable {
        public var h: [[Double]]   // rows of H
        public var bound: [Double]  // h
        /// Control steps where the set is unsafe (nil: every step).
        public var steps: ClosedRange<Int>? = nil
        public var mode: UnsafeMode = .sample

        public func applies(at t: Int) -> Bool { steps.map { $0.contains(t) } ?? true }
    }

    public var file: String
    public var stateCount: Int
    public var plant: Plant
    public var disturbance: (lower: [Double], upper: [Double])?
    public var controller: Graph?
    public var controllerPath: String?
    public var controlCount: Int
    public var uMin: [Double]?
    public var uMax: [Double]?
    public var horizon: Int
    public var directions: Directions
    public var strategy: Strategy
    public var intermediates: IntermediateMethod
    public var unsafe: [UnsafeSet]
    public var sensorRadius: [Double]?
    /// The whole parsed document, for sections other layers read ([monitor], [zmq]).
    public var document: [String: TOMLValue]

    public static func load(path: String) throws -> SystemDescription {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              (attributes[.type] as? FileAttributeType) == .typeRegular else {
            throw SystemError("\(path): cannot read the file (missing, or not a regular file)")
        }
        guard ((attributes[.size] as? NSNumber)?.intValue ?? 0) <= TOMLParser.maximumSize,
              let data = FileManager.default.contents(atPath: path) else {
            throw SystemError("\(path): cannot read the file, or it is larger than \(TOMLParser.maximumSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw SystemError("\(path): not UTF-8 text") }
        let dir = (path as NSString).deletingLastPathComponent
        return try parse(text: text, file: path, directory: dir.isEmpty ? "." : dir)
    }

    /// From TOML text; model paths are resolved against `directory`.
    public static func parse(text: String, file: String, directory: String) throws -> SystemDescription {
        let doc: [String: TOMLValue]
        do { doc = try TOMLParser.parse(text, file: file) } catch { throw SystemError("\(error)") }
        return try SystemDescription(document: doc, file: file, directory: directory)
    }

    init(document doc: [String: TOMLValue], file: String, directory: String) throws {
        self.file = file
        document = doc
        func fail(_ key: String, _ m: String) -> SystemError { SystemError("\(file): \(key): \(m)") }
        func section(_ name: String) throws -> [String: TOMLValue]? {
            guard let v = doc[name] else { return nil }
            guard let t = v.table else { throw fail("[\(name)]", "must be a table") }
            return t
        }
        func vector(_ t: [String: TOMLValue], _ section: String, _ key: String, count: Int? = nil) throws -> [Double]? {
            guard let v = t[key] else { return nil }
            let name = "[\(section)] \(key)"
            guard let list = v.array else { throw fail(name, "must be an array of numbers") }
            let out = try list.enumerated().map { i, x -> Double in
                guard let n = x.number else { throw fail(name, "element \(i) is not a number") }
                guard n.isFinite else { throw fail(name, "element \(i) is not finite") }
                return n
            }
            if let count, out.count != count { throw fail(name, "has \(out.count) values, expected \(count)") }
            return out
        }
        func matrix(_ v: TOMLValue?, _ name: String, cols: Int? = nil) throws -> [[Double]]? {
            guard let v else { return nil }
            guard let rows = v.array, !rows.isEmpty else { throw fail(name, "must be a non-empty array of rows") }
            let out = try rows.enumerated().map { r, row -> [Double] in
                guard let items = row.array else { throw fail(name, "row \(r) is not an array") }
                return try items.enumerated().map { i, x in
                    guard let n = x.number, n.isFinite else { throw fail(name, "row \(r) element \(i) is not a finite number") }
                    return n
                }
            }
            let width = cols ?? out[0].count
            for (r, row) in out.enumerated() where row.count != width {
                throw fail(name, "row \(r) has \(row.count) values, expected \(width)")
            }
            return out
        }
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (directory as NSString).appendingPathComponent(p) }

        guard let plantT = try section("plant") else { throw fail("[plant]", "missing") }
        let kind = plantT["type"]?.string ?? "linear"
        // Controller first: it fixes the control dimension.
        var controller: Graph? = nil
        var controllerPath: String? = nil
        var interface = ControllerInterface()
        var m = 0
        if let ct = try section("controller") {
            guard let model = ct["model"]?.string else { throw fail("[controller] model", "missing (path of the ONNX file)") }
            let path = resolve(model)
            do { controller = try ONNXImporter.load(path: path).graph } catch { throw SystemError("\(file): [controller] model: \(error)") }
            controllerPath = path
            m = controller?.outputSize ?? 0
            interface.scale = try vector(ct, "controller", "output_scale", count: m)
            interface.offset = try vector(ct, "controller", "output_offset", count: m)
            uMin = try vector(ct, "controller", "u_min", count: m)
            uMax = try vector(ct, "controller", "u_max", count: m)
            if let lo = uMin, let hi = uMax, let bad = lo.indices.first(where: { lo[$0] > hi[$0] }) {
                throw fail("[controller] u_min", "u_min[\(bad)] = \(lo[bad]) exceeds u_max[\(bad)] = \(hi[bad])")
            }
        }
        controlCount = m
        self.controller = controller
        self.controllerPath = controllerPath
        switch kind {
        case "linear":
            guard let a = try matrix(plantT["A"], "[plant] A") else { throw fail("[plant] A", "missing") }
            let n = a.count
            guard a[0].count == n else { throw fail("[plant] A", "is \(n)x\(a[0].count); it must be square") }
            stateCount = n
            var b: Matrix? = nil
            if let rows = try matrix(plantT["B"], "[plant] B") {
                guard rows.count == n else { throw fail("[plant] B", "has \(rows.count) rows; A has \(n)") }
                guard rows[0].count == m else {
                    throw fail("[plant] B", "has \(rows[0].count) columns; the controller gives \(m) outputs")
                }
                b = Matrix(rows)
            } else if m > 0 {
                throw fail("[plant] B", "missing, but a [controller] is given")
            }
            let c = try vector(plantT, "plant", "c", count: n) ?? [Double](repeating: 0, count: n)
            plant = .linear(a: Matrix(a), b: b, c: c)
        case "network":
            guard let model = plantT["model"]?.string else { throw fail("[plant] model", "missing for type = \"network\"") }
            let path = resolve(model)
            let g: Graph
            do { g = try ONNXImporter.load(path: path).graph } catch { throw SystemError("\(file): [plant] model: \(error)") }
            let n = g.outputSize
            guard g.inputSize == n || g.inputSize == n + m else {
                throw fail("[plant] model", "takes \(g.inputSize) inputs; expected the state (\(n)) or state and control (\(n + m))")
            }
            if m > 0 && g.inputSize == n {
                throw fail("[plant] model", "takes only the state (\(n) inputs) but a [controller] is given")
            }
            stateCount = n
            plant = .network(model: g, path: path, takesControl: g.inputSize == n + m && m > 0)
        case "discrete":
            let p = try DiscretePlant.parse(plantT, controls: m, file: file)
            stateCount = p.states.count
            plant = .discrete(p)
        case "ode":
            let p = try ODEPlant.parse(plantT, reach: try section("reach") ?? [:], controls: m, file: file)
            stateCount = p.states.count
            plant = .ode(p)
        default:
            throw fail("[plant] type", "must be \"linear\", \"network\", \"discrete\" or \"ode\", not \"\(kind)\"")
        }
        let n = stateCount
        if let inputs = try section("controller")?["inputs"] {
            guard let names = plant.stateNames, let constants = plant.constants else {
                throw fail("[controller] inputs", "needs named states (a plant of type \"ode\" or \"discrete\")")
            }
            interface.inputMap = try ControllerInterface.inputMap(inputs, states: names, constants: constants,
                                                                  file: file)
        }
        if let c = controller {
            let wanted = interface.inputMap?.weight.rows ?? n
            guard c.inputSize == wanted else {
                let what = interface.inputMap == nil ? "the state has \(n)" : "[controller] inputs gives \(wanted)"
                throw fail("[controller] model", "takes \(c.inputSize) inputs; \(what)")
            }
            self.controller = try interface.folded(c, stateCount: n)
        }
        // An ODE plant's disturbances are named (held over a period); others add one per state.
        var ode: ODEPlant? = nil
        if case .ode(let p) = plant { ode = p }
        let nw = ode?.disturbances.count ?? n
        let wl = try vector(plantT, "plant", "disturbance_lower", count: nw)
        let wu = try vector(plantT, "plant", "disturbance_upper", count: nw)
        if let ode, !ode.disturbances.isEmpty, wl == nil {
            throw fail("[plant] disturbance_lower", "missing: [plant] disturbances names \(ode.disturbances.count)")
        }
        if (wl == nil) != (wu == nil) { throw fail("[plant] disturbance_lower", "give both disturbance_lower and disturbance_upper") }
        if let wl, let wu {
            if let bad = wl.indices.first(where: { wl[$0] > wu[$0] }) {
                throw fail("[plant] disturbance_lower", "element \(bad) exceeds disturbance_upper")
            }
            disturbance = (wl, wu)
        }

        let reach = try section("reach") ?? [:]
        if let h = reach["horizon"] {
            guard let t = h.integer, t >= 1, t <= 1000 else { throw fail("[reach] horizon", "must be an integer from 1 to 1000") }
            horizon = t
        } else {
            horizon = 6
        }
        switch reach["directions"] {
        case nil: directions = .box
        case .string("box")?: directions = .box
        case .string("octagon")?: directions = .octagon
        case .string(let s)?: throw fail("[reach] directions", "must be \"box\", \"octagon\" or a matrix of rows, not \"\(s)\"")
        case let v?:
            guard let rows = try matrix(v, "[reach] directions", cols: n) else { throw fail("[reach] directions", "invalid") }
            directions = .rows(rows)
        }
        let strategyText = reach["strategy"]?.string ?? "one-shot"
        guard let s = Strategy(rawValue: strategyText) else {
            throw fail("[reach] strategy", "must be \"one-shot\" or \"recursive\", not \"\(strategyText)\"")
        }
        strategy = s
        intermediates = try Self.intermediates(in: reach, section: "reach", file: file, default: .lp)

        var unsafe: [UnsafeSet] = []
        if let safety = try section("safety"), let list = safety["unsafe"] {
            guard let items = list.array else { throw fail("[[safety.unsafe]]", "must be an array of tables") }
            for (k, item) in items.enumerated() {
                guard let t = item.table else { throw fail("[[safety.unsafe]] \(k)", "must be a table") }
                guard let h = try matrix(t["H"], "[[safety.unsafe]] \(k) H", cols: n) else {
                    throw fail("[[safety.unsafe]] \(k) H", "missing")
                }
                guard let b = try vector(t, "safety.unsafe \(k)", "h", count: h.count) else {
                    throw fail("[[safety.unsafe]] \(k) h", "missing")
                }
                for (r, row) in h.enumerated() where row.allSatisfy({ $0 == 0 }) {
                    throw fail("[[safety.unsafe]] \(k) H", "row \(r) is zero")
                }
                var set = UnsafeSet(h: h, bound: b)
                set.mode = ode == nil ? .sample : .interval
                if let w = t["when"] {
                    guard let text = w.string, let mode = UnsafeMode(rawValue: text) else {
                        throw fail("[[safety.unsafe]] \(k) when", "must be \"sample\" or \"interval\"")
                    }
                    guard mode == .sample || ode != nil else {
                        throw fail("[[safety.unsafe]] \(k) when", "\"interval\" needs a continuous-time plant (type = \"ode\")")
                    }
                    set.mode = mode
                }
                if let window = t["steps"] {
                    guard let pair = window.array, pair.count == 2, let a = pair[0].integer, let z = pair[1].integer,
                          a >= 0, a <= z else {
                        throw fail("[[safety.unsafe]] \(k) steps", "must be [first, last], 0 <= first <= last")
                    }
                    set.steps = a...z
                }
                unsafe.append(set)
            }
        }
        self.unsafe = unsafe
        if let sensor = try section("sensor") {
            sensorRadius = try vector(sensor, "sensor", "radius", count: n)
            if let r = sensorRadius, let bad = r.firstIndex(where: { $0 < 0 }) {
                throw fail("[sensor] radius", "element \(bad) is negative")
            }
        }
    }

    /// `[section] intermediates`: "crown", "lp" or "ibp", `fallback` when absent. One parser for
    /// [reach] and [monitor], so both accept the same names and refuse a non-string value alike.
    public static func intermediates(in table: [String: TOMLValue], section: String, file: String,
                                     default fallback: IntermediateMethod) throws -> IntermediateMethod {
        guard let value = table["intermediates"] else { return fallback }
        if let text = value.string, let method = IntermediateMethod(rawValue: text) { return method }
        let given = value.string.map { "not \"\($0)\"" } ?? "as a string"
        throw SystemError("\(file): [\(section)] intermediates: must be \"crown\", \"lp\" or \"ibp\", \(given)")
    }

    /// Template rows over the state: box (±e_i), octagon (±e_i, ±e_i±e_j), or the given rows.
    public var templateRows: [[Double]] {
        let n = stateCount
        func e(_ i: Int, _ s: Double) -> [Double] { (0..<n).map { $0 == i ? s : 0 } }
        var rows: [[Double]] = []
        for i in 0..<n { rows.append(e(i, 1)); rows.append(e(i, -1)) }
        switch directions {
        case .box: break
        case .octagon:
            for i in 0..<n {
                for j in (i + 1)..<n {
                    for (a, b) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
                        rows.append((0..<n).map { $0 == i ? a : ($0 == j ? b : 0) })
                    }
                }
            }
        case .rows(let r):
            rows += r
        }
        return rows
    }
}
