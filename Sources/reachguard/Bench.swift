import ArgumentParser
import Bounds
import Foundation
import LinearAlgebra
import Network
import Splitting

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the solver against HiGHS on the committed LP fixtures (figures, not a test).",
        discussion: """
        Reads Tests/Fixtures/lp/NAME.json (made by Scripts/make_lp_fixtures.py, whose HiGHS
        times were measured on this machine class) and prints, per network: CROWN, cold and
        warm ADMM (warm: after a 1% shift of the box), the full pipeline with LP-tight
        intermediates, and HiGHS on the same relaxations. For a live HiGHS run beside it:
        python3 Scripts/bench_highs.py Tests/Fixtures/lp/NAME.json

        Example:
          reachguard bench --names b_10_50_50_5,b_20_200_200_10
        """)

    @Option(help: "Folder of the LP fixtures.") var fixtures: String = "Tests/Fixtures/lp"
    @Option(help: "Comma-separated fixture names (default: the bench set in index.json).") var names: String?
    @Option(help: "Repetitions per timing (the best is kept).") var repetitions: Int = 3
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try OptionCheck.count(repetitions, "--repetitions", in: 1...1000)
    }

    func run() throws {
        try Output.run {
            let list: [String]
            if let names { list = names.split(separator: ",").map(String.init) } else {
                let index = try InputFiles.jsonObject(fixtures + "/index.json")
                list = (index["bench"] as? [String] ?? []) + []
            }
            var rows: [[String: Any]] = []
            if !json {
                Output.line("network                     | CROWN s  | cold it / s        | warm it / s (1% shift) | HiGHS lp s | dev vs LP  | LP-interm. s (it)   | HiGHS lp_layers+lp s | dev vs LP*")
            }
            for name in list {
                let row = try benchOne(name)
                rows.append(row)
                if !json {
                    func f(_ k: String) -> Double { row[k] as? Double ?? .nan }
                    func i(_ k: String) -> Int { row[k] as? Int ?? 0 }
                    Output.line(String(format: "%@ | %8.4f | %6d / %8.4f  | %6d / %8.4f        | %10.4f | %10.2e | %8.4f (%7d)  | %20.4f | %10.2e",
                                       name.padding(toLength: 27, withPad: " ", startingAt: 0), f("crown_seconds"), i("cold_iterations"), f("cold_seconds"),
                                       i("warm_iterations"), f("warm_seconds"), f("highs_lp_seconds"), f("cold_max_deviation"),
                                       f("lp_pipeline_seconds"), i("lp_pipeline_iterations"), f("highs_lp_layers_seconds"),
                                       f("lp_pipeline_max_deviation")))
                }
            }
            if json { try Output.json(["networks": rows]) }
        }
    }

    func bestTime(_ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<max(1, repetitions) {
            let t = Date()
            try body()
            best = min(best, Date().timeIntervalSince(t))
        }
        return best
    }

    func benchOne(_ name: String) throws -> [String: Any] {
        let fx = try InputFiles.jsonObject("\(fixtures)/\(name).json")
        guard let modelFile = fx["model"] as? String, let cases = fx["cases"] as? [[String: Any]], cases.count >= 2 else {
            throw CommandFailure("\(fixtures)/\(name).json: not an LP fixture")
        }
        let graph = try ONNXImporter.load(path: "\(fixtures)/\(modelFile)").graph
        func interval(_ any: Any?, _ field: String) throws -> Interval {
            guard let d = any as? [String: Any] else { throw CommandFailure("\(name): missing \(field)") }
            return Interval(lower: try InputFiles.numbers(d["lower"], name, field + ".lower"),
                            upper: try InputFiles.numbers(d["upper"], name, field + ".upper"))
        }
        func layerBounds(_ c: [String: Any], _ box: Interval) throws -> [Interval] {
            let layers = c["lp_layers"] as? [Any] ?? []
            var known = [Interval?](repeating: nil, count: graph.nodes.count)
            for (w, l) in zip(graph.preActivationNodes, layers) { known[w] = try interval(l, "lp_layers") }
            return IBP.bounds(graph, box: box, known: known)
        }
        let n = graph.outputSize
        var c = Matrix(rows: n, cols: 2 * n)
        for i in 0..<n { c[i, i] = 1; c[i, n + i] = -1 }
        let box0 = try interval(cases[0]["box"], "box")
        let box1 = try interval(cases[1]["box"], "box")
        let lp0 = try interval(cases[0]["lp"], "lp")
        let b0 = try layerBounds(cases[0], box0)
        let b1 = try layerBounds(cases[1], box1)
        let solver = try SplittingSolver(graph: graph, scaling: IntermediateBounds.crown(graph, box: box0))
        var settings = Settings()
        settings.applyDiagnosticEnvironment()

        // CROWN (intermediate bounds and the final pass).
        var crownBound: [Double] = []
        let crownSeconds = bestTime {
            let ib = IntermediateBounds.crown(graph, box: box0, dual: solver.dual)
            crownBound = solver.dual.evaluate(target: graph.output, objectives: c, box: box0, bounds: ib, rule: .crown).lower
        }
        // Cold ADMM on the oracle's intermediate bounds (the same relaxation as HiGHS's 'lp').
        var cold = Solution?.none
        var coldWS = solver.makeWorkspace(target: graph.output, columns: 2 * n)
        let coldSeconds = try bestTime {
            var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
            cold = try solver.solve(objectives: c, box: box0, bounds: b0, workspace: &ws, settings: settings)
            coldWS = ws
        }
        // Warm: the shifted box from the cold workspace.
        var warm = Solution?.none
        let warmSeconds = try bestTime {
            var ws = coldWS
            warm = try solver.solve(objectives: c, box: box1, bounds: b1, workspace: &ws, settings: settings)
        }
        func deviation(_ s: Solution?, _ ref: Interval) -> Double {
            guard let s else { return .nan }
            var d = 0.0
            for j in 0..<n {
                d = max(d, (ref.lower[j] - s.lower[j]) / max(1, abs(ref.lower[j])))
                d = max(d, (-s.lower[n + j] - ref.upper[j]) / max(1, abs(ref.upper[j])))
            }
            return d
        }
        // Full pipeline with LP-tight intermediates, cold.
        var pipe = Solution?.none
        var stats = IntermediateStatistics()
        let pipeSeconds = try bestTime {
            var wss: [Int: Workspace] = [:]
            stats = IntermediateStatistics()
            let ib = try solver.intermediateBounds(box: box0, method: .lp, workspaces: &wss, settings: settings, statistics: &stats)
            var ws = solver.makeWorkspace(target: graph.output, columns: 2 * n)
            pipe = try solver.solve(objectives: c, box: box0, bounds: ib, workspace: &ws, settings: settings)
        }
        let highs = cases[0]["highs_seconds"] as? [String: Any] ?? [:]
        var crownDev = 0.0
        for j in 0..<n { crownDev = max(crownDev, (lp0.lower[j] - crownBound[j]) / max(1, abs(lp0.lower[j]))) }
        return [
            "name": name, "crown_seconds": crownSeconds, "crown_max_deviation": crownDev,
            "cold_iterations": cold?.iterations ?? 0, "cold_seconds": coldSeconds,
            "cold_max_deviation": deviation(cold, lp0),
            "warm_iterations": warm?.iterations ?? 0, "warm_seconds": warmSeconds,
            "warm_max_deviation": deviation(warm, try interval(cases[1]["lp"], "lp")),
            "highs_lp_seconds": (highs["lp"] as? Double) ?? .nan,
            "highs_lp_layers_seconds": ((highs["lp_layers"] as? Double) ?? .nan) + ((highs["lp"] as? Double) ?? .nan),
            "lp_pipeline_seconds": pipeSeconds,
            "lp_pipeline_iterations": (pipe?.iterations ?? 0) + stats.iterations,
            "lp_pipeline_max_deviation": deviation(pipe, lp0),
        ]
    }
}
