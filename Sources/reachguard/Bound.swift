import ArgumentParser
import Bounds
import Foundation
import LinearAlgebra
import Network
import Splitting

struct Bound: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bound",
        abstract: "Certified lower and upper bounds of a network's outputs (or of linear objectives) over an input box.",
        discussion: """
        BOX.json is {"lower": [...], "upper": [...]}; a coordinate may be held fixed (lower = upper).
        C.json, if given, is {"c": [[...], ...]}: one row per objective on the outputs;
        without it every output gets a lower and an upper bound.

        Every number printed as a bound is certified: a Lagrangian dual bound of the
        convex relaxation with a rounding margin, never looser than CROWN's.

        Examples:
          reachguard bound model.onnx --box box.json
          reachguard bound model.onnx --box box.json --method crown --json
          reachguard bound model.onnx --box box.json --intermediates lp --objective c.json --json
        """)

    @Argument(help: "The ONNX model.") var model: String
    @Option(help: "Input box, a JSON file {\"lower\": [...], \"upper\": [...]}.") var box: String
    @Option(help: "admm (default), crown or ibp.") var method: String = "admm"
    @Option(help: "Intermediate bounds for admm: crown (default) or lp (LP-tight, slower, tighter).") var intermediates: String = "crown"
    @Option(help: "Objectives, a JSON file {\"c\": [[...], ...]} over the outputs.") var objective: String?
    @Option(help: "Relative certified gap at which an objective stops.") var tolerance: Double = 5e-4
    @Option(help: "Iteration cap per solve.") var maxIterations: Int = 20_000
    @Option(help: "Wall-clock budget per solve, in milliseconds.") var deadlineMs: Double?
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try OptionCheck.choice(method, "--method", ["admm", "crown", "ibp"])
        try OptionCheck.choice(intermediates, "--intermediates", IntermediateMethod.allCases.map(\.rawValue))
        try OptionCheck.number(tolerance, "--tolerance", in: 0...1, open: true)
        try OptionCheck.count(maxIterations, "--max-iterations")
        try OptionCheck.seconds(deadlineMs, "--deadline-ms", milliseconds: true)
    }

    func run() throws {
        try Output.run {
            let m = try ONNXImporter.load(path: model)
            let graph = m.graph
            let input = try InputFiles.box(box, dimension: graph.inputSize)
            let rows = try objective.map { try InputFiles.objectives($0, outputs: graph.outputSize) }
                ?? (0..<graph.outputSize).map { j in (0..<graph.outputSize).map { $0 == j ? 1.0 : 0.0 } }
            guard let inter = IntermediateMethod(rawValue: intermediates) else {
                throw CommandFailure("--intermediates must be crown, lp or ibp, not '\(intermediates)'")
            }
            var settings = Settings()
            settings.tolerance = tolerance
            settings.maxIterations = maxIterations
            settings.deadline = deadlineMs.map { $0 / 1000 }
            settings.applyDiagnosticEnvironment()
            let start = Date()
            let result = try BoundComputation.run(model: model, graph: graph, box: input, rows: rows, method: method,
                                                  intermediates: inter, settings: settings)
            let seconds = Date().timeIntervalSince(start)
            if json {
                var obj: [String: Any] = [
                    "lower": result.lower, "upper": result.upper, "method": method,
                    "iterations": result.iterations, "seconds": seconds,
                    "crown_lower": result.crownLower, "crown_upper": result.crownUpper,
                    "stop": result.stop, "intermediates": method == "admm" ? inter.rawValue : method,
                    "unstable_neurons": result.unstable,
                ]
                if let e = result.estimateLower, let f = result.estimateUpper {
                    obj["relaxation_point_lower_estimate"] = e
                    obj["relaxation_point_upper_estimate"] = f
                }
                try Output.json(obj)
            } else {
                Output.line("method: \(method)\(method == "admm" ? " (intermediates: \(inter.rawValue))" : ""), "
                    + "\(result.iterations) iterations, \(String(format: "%.4f", seconds)) s, stop: \(result.stop)")
                for j in 0..<rows.count {
                    let label = objective == nil ? "output \(j)" : "objective \(j)"
                    Output.line("\(label): [\(Output.number(result.lower[j])), \(Output.number(result.upper[j]))]"
                        + "  (CROWN [\(Output.number(result.crownLower[j])), \(Output.number(result.crownUpper[j]))])")
                }
            }
        }
    }
}

/// Bounds for rows cᵢ: lower = certified min cᵢᵀy, upper = certified max.
struct BoundComputation {
    var lower: [Double]
    var upper: [Double]
    var crownLower: [Double]
    var crownUpper: [Double]
    var estimateLower: [Double]?
    var estimateUpper: [Double]?
    var iterations: Int
    var stop: String
    var unstable: Int

    /// An operator's domain left by the bounds (1/z across 0): no bound can be claimed, so the node is named.
    static func checkDomains(model: String, _ graph: Graph, _ bounds: [Interval]) throws {
        if let v = DomainCheck.firstViolation(graph, bounds) {
            throw CommandFailure("\(model): node '\(v.node)': \(v.reason) over this box; no bound is claimed")
        }
    }

    static func run(model: String, graph: Graph, box: Interval, rows: [[Double]], method: String,
                    intermediates: IntermediateMethod, settings: Settings) throws -> BoundComputation {
        let n = graph.outputSize
        let k = rows.count
        var c = Matrix(rows: n, cols: 2 * k)
        for (j, row) in rows.enumerated() {
            for i in 0..<n {
                c[i, j] = row[i]
                c[i, k + j] = -row[i]
            }
        }
        if method == "ibp" {
            let b = IBP.bounds(graph, box: box)
            try checkDomains(model: model, graph, b)
            // IBP of a linear objective: the box of the outputs.
            var lo = [Double](), hi = [Double]()
            for row in rows {
                var l = 0.0, h = 0.0
                for i in 0..<n {
                    l += row[i] >= 0 ? row[i] * b[graph.output].lower[i] : row[i] * b[graph.output].upper[i]
                    h += row[i] >= 0 ? row[i] * b[graph.output].upper[i] : row[i] * b[graph.output].lower[i]
                }
                let margin = Rounding.gamma(n) * (abs(l) + abs(h))
                lo.append(l - margin)
                hi.append(h + margin)
            }
            return BoundComputation(lower: lo, upper: hi, crownLower: lo, crownUpper: hi, estimateLower: nil,
                                    estimateUpper: nil, iterations: 0, stop: "converged",
                                    unstable: IntermediateBounds.unstableCount(graph, b))
        }
        let dual = DualBound(graph: graph)
        let crownBounds = IntermediateBounds.crown(graph, box: box, dual: dual)
        if method == "crown" {
            let bounds = crownBounds
            try checkDomains(model: model, graph, bounds)
            let r = dual.evaluate(target: graph.output, objectives: c, box: box, bounds: bounds, rule: .crown)
            let lo = Array(r.lower[0..<k]), hi = r.lower[k...].map { -$0 }
            return BoundComputation(lower: lo, upper: hi, crownLower: lo, crownUpper: hi, estimateLower: nil,
                                    estimateUpper: nil, iterations: 0, stop: "converged",
                                    unstable: IntermediateBounds.unstableCount(graph, bounds))
        }
        let solver = try SplittingSolver(graph: graph, scaling: crownBounds)
        var workspaces: [Int: Workspace] = [:]
        var stats = IntermediateStatistics()
        let bounds = intermediates == .crown ? crownBounds
            : try solver.intermediateBounds(box: box, method: intermediates, workspaces: &workspaces,
                                        settings: settings, statistics: &stats)
        try checkDomains(model: model, graph, bounds)
        var ws = solver.makeWorkspace(target: graph.output, columns: 2 * k)
        let sol = try solver.solve(objectives: c, box: box, bounds: bounds, workspace: &ws, settings: settings)
        return BoundComputation(lower: Array(sol.lower[0..<k]), upper: sol.lower[k...].map { -$0 },
                                crownLower: Array(sol.crownLower[0..<k]), crownUpper: sol.crownLower[k...].map { -$0 },
                                estimateLower: Array(sol.primalEstimate[0..<k]),
                                estimateUpper: sol.primalEstimate[k...].map { -$0 },
                                iterations: sol.iterations + stats.iterations, stop: sol.stop.rawValue,
                                unstable: IntermediateBounds.unstableCount(graph, bounds))
    }
}

enum InputFiles {
    static func jsonObject(_ path: String) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) }
        catch { throw CommandFailure("\(path): cannot read the file") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CommandFailure("\(path): not a JSON object (invalid JSON, or numbers out of range such as 1e999 or NaN)")
        }
        return obj
    }

    static func numbers(_ value: Any?, _ path: String, _ field: String) throws -> [Double] {
        guard let list = value as? [Any] else { throw CommandFailure("\(path): '\(field)' must be an array of numbers") }
        return try list.enumerated().map { i, v in
            guard let n = v as? NSNumber else {
                throw CommandFailure("\(path): \(field)[\(i)] is not a number")
            }
            return n.doubleValue
        }
    }

    static func box(_ path: String, dimension: Int) throws -> Interval {
        let obj = try jsonObject(path)
        let lower = try numbers(obj["lower"], path, "lower")
        let upper = try numbers(obj["upper"], path, "upper")
        guard lower.count == upper.count else {
            throw CommandFailure("\(path): 'lower' has \(lower.count) values, 'upper' \(upper.count)")
        }
        do { return try Interval(lower: lower, upper: upper).validatedAsBox(dimension: dimension, name: path) }
        catch { throw CommandFailure("\(error)") }
    }

    static func objectives(_ path: String, outputs: Int) throws -> [[Double]] {
        let obj = try jsonObject(path)
        guard let rows = obj["c"] as? [Any], !rows.isEmpty else {
            throw CommandFailure("\(path): 'c' must be a non-empty array of rows")
        }
        return try rows.enumerated().map { i, r in
            let row = try numbers(r, path, "c[\(i)]")
            guard row.count == outputs else {
                throw CommandFailure("\(path): c[\(i)] has \(row.count) values; the network has \(outputs) outputs")
            }
            guard row.allSatisfy({ $0.isFinite }) else { throw CommandFailure("\(path): c[\(i)] has a non-finite value") }
            return row
        }
    }
}

extension Settings {
    /// Solver knobs for experiments (not a user interface): REACHGUARD_TRACE,
    /// REACHGUARD_RHO, REACHGUARD_ALPHA, REACHGUARD_RHO_PERIOD, REACHGUARD_AA,
    /// REACHGUARD_CERT_PERIOD.
    mutating func applyDiagnosticEnvironment() {
        let env = ProcessInfo.processInfo.environment
        if env["REACHGUARD_TRACE"] != nil {
            progress = { p in
                Output.log("it \(p.iteration) col \(p.column) bound \(p.bound) feasible \(p.feasible) "
                    + "r \(p.primalResidual) s \(p.dualResidual) rho \(p.rho)")
            }
        }
        if let r = env["REACHGUARD_RHO"].flatMap(Double.init) { rho = r }
        if let a = env["REACHGUARD_ALPHA"].flatMap(Double.init) { alpha = a }
        if let p = env["REACHGUARD_RHO_PERIOD"].flatMap(Int.init) { rhoUpdatePeriod = p }
        if let m = env["REACHGUARD_AA"].flatMap(Int.init) { andersonMemory = m }
        if let m = env["REACHGUARD_CERT_PERIOD"].flatMap(Int.init) { certificatePeriod = m }
    }
}
