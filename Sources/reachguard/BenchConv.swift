import ArgumentParser
import Bounds
import Foundation
import LinearAlgebra
import Network
import Splitting

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-conv",
        abstract: "Scaling benchmark on a convolutional classifier: DeepSplit's certified margins against CROWN's (figures, not a test).",
        discussion: """
        Takes an L∞ ball of radius ε around an image (random with --seed, in [0, 1]),
        the network's own prediction as the label, and the margins
        logit[label] − logit[j] as objectives. Prints, side by side: the time of IBP,
        of CROWN's intermediate bounds and of CROWN's margins; DeepSplit's
        iterations, time per iteration and conjugate-gradient steps; the peak
        resident memory; and per class the CROWN margin, DeepSplit's certified
        margin and the smallest margin sampling found (an upper bound of the true one).
        The default model is made by Scripts/make_cifar_benchmark.py.

        Example:
          reachguard bench-conv Benchmarks/cifar_resnet.onnx --epsilon 0.002 --seconds 60
        """)

    @Argument(help: "ONNX classifier with an image input.") var model: String = "Benchmarks/cifar_resnet.onnx"
    @Option(help: "L∞ radius, in the input's units.") var epsilon: Double = 1.0 / 255
    @Option(help: "Wall-clock budget for DeepSplit after CROWN, in seconds.") var seconds: Double = 60
    @Option(help: "Seed of the random image.") var seed: UInt64 = 1
    @Option(help: "Random samples of the ball for the empirical worst case.") var samples: Int = 200
    @Flag(help: "Project every affine node matrix-free (by default only those too large to factor).") var matrixFree = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try OptionCheck.number(epsilon, "--epsilon", in: 0...1e6)
        try OptionCheck.seconds(seconds, "--seconds")
        try OptionCheck.count(samples, "--samples", in: 0...10_000_000)
    }

    func run() throws {
        try Output.run {
            ReachGuard.prepare()
            guard epsilon >= 0, epsilon.isFinite, seconds > 0, seconds.isFinite else {
                throw ValidationError("--epsilon must be ≥ 0 and --seconds > 0")
            }
            let imported = try ONNXImporter.load(path: model)
            let graph = imported.graph
            let n = graph.inputSize, classes = graph.outputSize
            guard classes >= 2 else { throw ValidationError("\(model): the output has \(classes) value(s); a classifier has at least 2") }
            var rng = SplitMix64(seed: seed)
            let centre = (0..<n).map { _ in rng.unit() }
            let box = Interval(lower: centre.map { max(0, $0 - epsilon) }, upper: centre.map { min(1, $0 + epsilon) })
            let logits = graph.evaluate(centre)
            let label = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            let others = (0..<classes).filter { $0 != label }
            var c = Matrix(rows: classes, cols: others.count)
            for (j, o) in others.enumerated() { c[label, j] = 1; c[o, j] = -1 }

            let t0 = Date()
            _ = IBP.bounds(graph, box: box)
            let ibpSeconds = Date().timeIntervalSince(t0)
            Output.log("bench-conv: \(model): \(n) inputs, \(graph.nodes.count) nodes, label \(label); CROWN intermediates…")
            let t1 = Date()
            let dual = DualBound(graph: graph)
            let bounds = IntermediateBounds.crown(graph, box: box, dual: dual)
            let crownIntermediateSeconds = Date().timeIntervalSince(t1)
            let t2 = Date()
            let crown = dual.evaluate(target: graph.output, objectives: c, box: box, bounds: bounds).lower
            let crownSeconds = Date().timeIntervalSince(t2)

            let t3 = Date()
            let solver = try SplittingSolver(graph: graph, scaling: bounds, matrixFree: matrixFree ? true : nil)
            let setupSeconds = Date().timeIntervalSince(t3)
            let matrixFree = graph.nodes.indices.filter { solver.isMatrixFree(node: $0) }.count
            var workspace = solver.makeWorkspace(target: graph.output, columns: others.count)
            var best = crown
            var iterations = 0, cgSteps = 0
            var trace: [[String: Any]] = []
            let start = Date()
            // Rounds of a few hundred iterations on the warm workspace: a progress
            // line and a (time, margins) point per round.
            while Date().timeIntervalSince(start) < seconds {
                var settings = Settings()
                settings.deadline = seconds - Date().timeIntervalSince(start)
                settings.maxIterations = 200
                let sol = try solver.solve(objectives: c, box: box, bounds: bounds, workspace: &workspace, settings: settings)
                iterations += sol.iterations
                cgSteps += sol.projectionIterations
                for j in best.indices { best[j] = max(best[j], sol.lower[j]) }
                let elapsed = Date().timeIntervalSince(start)
                let tighter = zip(best, crown).filter { $0 > $1 }.count
                trace.append(["seconds": elapsed, "iterations": iterations, "lower": best])
                if isatty(2) != 0 {
                    FileHandle.standardError.write(Data(String(format: "\rbench-conv: %5.1f s, %5d iterations, tighter than CROWN on %d/%d",
                                                                elapsed, iterations, tighter, best.count).utf8))
                }
                if sol.stop == .converged || sol.stop == .nothingToSolve { break }
            }
            if isatty(2) != 0 { FileHandle.standardError.write(Data("\n".utf8)) }
            let admmSeconds = Date().timeIntervalSince(start)

            // The empirical worst case: random points of the ball and its corners.
            var sampled = [Double](repeating: .infinity, count: others.count)
            for s in 0..<max(1, samples) {
                let x = (0..<n).map { i -> Double in
                    let u = rng.unit()
                    return s % 2 == 0 ? (u < 0.5 ? box.lower[i] : box.upper[i]) : box.lower[i] + u * (box.upper[i] - box.lower[i])
                }
                let y = graph.evaluate(x)
                for (j, o) in others.enumerated() { sampled[j] = min(sampled[j], y[label] - y[o]) }
            }
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let peakMiB = Double(usage.ru_maxrss) / 1024
            let tighter = zip(best, crown).filter { $0 > $1 }.count
            let perIteration = iterations > 0 ? admmSeconds / Double(iterations) : 0

            if json {
                try Output.json([
                    "model": model, "inputs": n, "nodes": graph.nodes.count, "parameters": graph.parameterCount,
                    "matrix_free_nodes": matrixFree, "epsilon": epsilon, "label": label, "classes": others,
                    "ibp_seconds": ibpSeconds, "crown_intermediate_seconds": crownIntermediateSeconds,
                    "crown_seconds": crownSeconds, "setup_seconds": setupSeconds,
                    "unstable": IntermediateBounds.unstableCount(graph, bounds),
                    "iterations": iterations, "admm_seconds": admmSeconds, "seconds_per_iteration": perIteration,
                    "cg_steps_per_iteration": iterations > 0 ? Double(cgSteps) / Double(iterations) : 0,
                    "peak_rss_mib": peakMiB, "crown_lower": crown, "deepsplit_lower": best, "sampled_min": sampled,
                    "tighter_than_crown": tighter, "trace": trace,
                ])
                return
            }
            Output.line("model \(model): \(n) inputs, \(graph.parameterCount) parameters, \(matrixFree) matrix-free affine nodes, "
                + "\(IntermediateBounds.unstableCount(graph, bounds)) unstable ReLUs at ε = \(Output.number(epsilon))")
            Output.line(String(format: "IBP %.3f s · CROWN intermediates %.2f s · CROWN margins %.3f s · solver setup %.2f s",
                               ibpSeconds, crownIntermediateSeconds, crownSeconds, setupSeconds))
            Output.line(String(format: "DeepSplit: %d iterations in %.1f s (%.1f ms/iteration, %.1f CG steps/iteration) · peak memory %.0f MiB",
                               iterations, admmSeconds, perIteration * 1000,
                               iterations > 0 ? Double(cgSteps) / Double(iterations) : 0, peakMiB))
            Output.line("class | CROWN margin | DeepSplit margin | gain     | sampled min")
            for (j, o) in others.enumerated() {
                Output.line(String(format: "%5d | %12.5f | %16.5f | %8.5f | %11.5f", o, crown[j], best[j], best[j] - crown[j], sampled[j]))
            }
            Output.line("tighter than CROWN on \(tighter) of \(others.count) objectives")
        }
    }
}
