import Bounds
import LinearAlgebra
import Network
import Splitting
import Verification

/// The solver-based bound computations on one problem, each checked against the probes.
struct SolverStages {
    let solver: SplittingSolver
    let box: Interval
    let probes: Probes

    var graph: Graph { solver.graph }

    /// Small caps keep an input to milliseconds; soundness must not depend on convergence.
    static var settings: Settings {
        var s = Settings()
        s.maxIterations = 50
        s.certificatePeriod = 10
        return s
    }

    /// IBP and CROWN, for every node and for ±e_i on the output; returns CROWN's node bounds.
    static func boundWithoutSolver(_ graph: Graph, box: Interval, probes: Probes) -> [Interval] {
        probes.checkNodes(IBP.bounds(graph, box: box), "IBP")
        let dual = DualBound(graph: graph)
        let crown = IntermediateBounds.crown(graph, box: box, dual: dual)
        probes.checkNodes(crown, "CROWN intermediates")
        let r = dual.evaluate(target: graph.output, objectives: objectives(graph), box: box, bounds: crown)
        probes.checkOutput(r.lower, graph: graph, "CROWN output")
        return crown
    }

    static func objectives(_ graph: Graph) -> Matrix {
        let n = graph.outputSize
        var c = Matrix(rows: n, cols: 2 * n)
        for i in 0..<n {
            c[i, i] = 1
            c[i, n + i] = -1
        }
        return c
    }

    func run(_ problem: Problem, crown: [Interval]) {
        var ws = solver.makeWorkspace(target: graph.output, columns: 2 * graph.outputSize)
        solve(bounds: crown, box: box, workspace: &ws, probes: probes, "ADMM (CROWN intermediates)")
        var wss: [Int: Workspace] = [:]
        let lp = intermediates(.lp, box: box, workspaces: &wss)
        probes.checkNodes(lp, "LP intermediates")
        solve(bounds: lp, box: box, workspace: &ws, probes: probes, "ADMM (LP intermediates)")
        split(workspace: ws, workspaces: wss)
        verify(problem)
    }

    func intermediates(_ method: IntermediateMethod, box: Interval,
                       workspaces: inout [Int: Workspace]) -> [Interval] {
        var stats = IntermediateStatistics()
        var s = Self.settings
        s.maxIterations = 30   // per pre-activation node, so it adds up
        return valid { () throws(SplittingError) in
            try solver.intermediateBounds(box: box, method: method, workspaces: &workspaces,
                                          settings: s, statistics: &stats)
        }
    }

    func solve(bounds: [Interval], box: Interval, workspace: inout Workspace, probes: Probes, _ what: String) {
        let sol = valid { () throws(SplittingError) in
            try solver.solve(objectives: Self.objectives(graph), box: box, bounds: bounds,
                             workspace: &workspace, settings: Self.settings)
        }
        probes.checkOutput(sol.lower, graph: graph, what)
    }

    /// Halves the widest coordinate, as the verifier does, and bounds each half
    /// from the whole box's warm state: LP intermediates on the left, CROWN on the right.
    func split(workspace: Workspace, workspaces: [Int: Workspace]) {
        let widths = box.widths
        guard let axis = widths.indices.max(by: { widths[$0] < widths[$1] }), widths[axis] > 0 else { return }
        let mid = (box.lower[axis] + box.upper[axis]) / 2
        var left = box, right = box
        left.upper[axis] = mid
        right.lower[axis] = mid
        for (half, method) in [(left, IntermediateMethod.lp), (right, .crown)] {
            let halfProbes = Probes(graph: graph, box: half, seed: ~UInt64(axis))
            var wss = workspaces
            let bounds = intermediates(method, box: half, workspaces: &wss)
            halfProbes.checkNodes(bounds, "split \(method) intermediates")
            var ws = workspace
            solve(bounds: bounds, box: half, workspace: &ws, probes: halfProbes, "split ADMM (\(method))")
        }
    }

    /// The verifier on "output j ≤ b" with b near the probes' minimum: an
    /// unsat answer must not contradict a probe, a sat one must hold.
    func verify(_ problem: Problem) {
        let j = problem.verifyOutput % graph.outputSize
        let ys = probes.values.map { $0[graph.output][j] }
        let low = ys.min() ?? 0, high = ys.max() ?? 0
        let bound = low + problem.verifyOffset * (high - low + 1e-3 * max(1, abs(low)))
        guard bound.isFinite, let property = try? VNNLIBParser.parse(text: vnnlib(output: j, atMost: bound)) else {
            return
        }
        var verifier = Verifier(graph: graph)
        verifier.settings = Self.settings
        // One split, few samples: falsification's pattern search is most of the verifier's time.
        verifier.maximumDepth = 1
        // A part left open after that split gets its root ReLU bound only (no domains: seconds per input).
        verifier.maximumDomains = 0
        verifier.randomSamples = 4
        verifier.intermediates = problem.verifyIntermediates
        check(valid { () throws(VerificationError) in try verifier.verify(property, timeout: 5) }.answer,
              output: j, atMost: bound)
    }

    func check(_ answer: VerificationAnswer, output j: Int, atMost bound: Double) {
        switch answer {
        case .sat(let x, let y):
            guard box.contains(x), y == graph.evaluate(x), y[j] <= bound else {
                fatalError("FuzzSolver: verify: counterexample \(x) -> \(y) is not one (Y_\(j) <= \(bound))")
            }
        case .unsat:
            if probes.attains(output: j, atMost: bound, graph: graph) {
                fatalError("FuzzSolver: verify: unsat, but a probe point has Y_\(j) < \(bound)")
            }
        case .unknown, .timeout:
            break
        }
    }

    func vnnlib(output j: Int, atMost bound: Double) -> String {
        var lines = (0..<box.count).map { "(declare-const X_\($0) Real)" }
        lines += (0..<graph.outputSize).map { "(declare-const Y_\($0) Real)" }
        for i in 0..<box.count {
            lines.append("(assert (>= X_\(i) \(box.lower[i])))")
            lines.append("(assert (<= X_\(i) \(box.upper[i])))")
        }
        lines.append("(assert (<= Y_\(j) \(bound)))")
        return lines.joined(separator: "\n")
    }
}

/// The fuzzer's settings are valid by construction: a refusal is itself a finding.
func valid<T, E: Error>(_ body: () throws(E) -> T) -> T {
    do { return try body() } catch { fatalError("valid settings refused: \(error)") }
}
