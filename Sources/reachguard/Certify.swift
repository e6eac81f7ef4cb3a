import ArgumentParser
import Bounds
import Foundation
import LinearAlgebra
import Network
import Splitting

struct Certify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certify",
        abstract: "Certified robustness of a classifier: per input, whether its margin stays positive over an L∞ ball.",
        discussion: """
        FILE is JSON: {"images": [[...], ...], "labels": [...], "lower": 0.0, "upper": 1.0}. Each image
        is the model's input flattened in row-major order; `lower`/`upper` (optional, numbers) clip the
        ball to the valid input range. For each input and each epsilon, the margins
        logit[label] − logit[j] get certified lower bounds (CROWN first, then ADMM where CROWN
        does not decide); an input counts as certified when every margin is certified positive.
        Misclassified inputs are never certified.

        Example:
          reachguard certify Config/digits/digits_cnn.onnx --images Config/digits/digits_test.json --epsilon 0.01,0.03
        """)

    @Argument(help: "The ONNX classifier (logits out).") var model: String
    @Option(help: "Inputs and labels, JSON.") var images: String
    @Option(help: "Comma-separated L∞ radii.") var epsilon: String
    @Option(help: "Only the first N inputs.") var limit: Int?
    @Option(help: "admm (default) or crown.") var method: String = "admm"
    @Option(help: "Wall-clock budget per input and epsilon, milliseconds.") var deadlineMs: Double = 2000
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try OptionCheck.numbers(epsilon, "--epsilon", nonNegative: true)
        try OptionCheck.count(limit, "--limit")
        try OptionCheck.choice(method, "--method", ["admm", "crown"])
        try OptionCheck.seconds(deadlineMs, "--deadline-ms", milliseconds: true)
    }

    func run() throws {
        try Output.run {
            let m = try ONNXImporter.load(path: model)
            let g = m.graph
            let obj = try InputFiles.jsonObject(images)
            guard let rows = obj["images"] as? [Any], let labelsAny = obj["labels"] as? [Any], rows.count == labelsAny.count else {
                throw CommandFailure("\(images): needs 'images' and 'labels' arrays of the same length")
            }
            let lo = (obj["lower"] as? NSNumber)?.doubleValue ?? -.infinity
            let hi = (obj["upper"] as? NSNumber)?.doubleValue ?? .infinity
            let eps = try parseNumbers(epsilon, field: "--epsilon")
            guard eps.allSatisfy({ $0 >= 0 }) else { throw CommandFailure("--epsilon: radii must be non-negative") }
            guard ["admm", "crown"].contains(method) else { throw CommandFailure("--method must be admm or crown") }
            let count = min(rows.count, limit ?? rows.count)
            var inputs: [[Double]] = []
            var labels: [Int] = []
            for i in 0..<count {
                let x = try InputFiles.numbers(rows[i], images, "images[\(i)]")
                guard x.count == g.inputSize else {
                    throw CommandFailure("\(images): images[\(i)] has \(x.count) values; \(model) takes \(g.inputSize)")
                }
                guard let l = (labelsAny[i] as? NSNumber)?.intValue, l >= 0, l < g.outputSize else {
                    throw CommandFailure("\(images): labels[\(i)] is not a class index below \(g.outputSize)")
                }
                inputs.append(x)
                labels.append(l)
            }
            let k = g.outputSize
            let start = Date()
            var solver: SplittingSolver? = nil
            var results: [[String: Any]] = []
            for e in eps {
                var certified = 0, correct = 0
                var perInput: [[String: Any]] = []
                for (i, x) in inputs.enumerated() {
                    let y = g.evaluate(x)
                    let predicted = y.indices.max { y[$0] < y[$1] } ?? 0
                    var entry: [String: Any] = ["index": i, "label": labels[i], "predicted": predicted]
                    guard predicted == labels[i] else {
                        entry["certified"] = false
                        perInput.append(entry)
                        continue
                    }
                    correct += 1
                    let box = Interval(lower: x.map { max(lo, $0 - e) }, upper: x.map { min(hi, $0 + e) })
                    var c = Matrix(rows: k, cols: k - 1)
                    var col = 0
                    for j in 0..<k where j != labels[i] {
                        c[labels[i], col] = 1
                        c[j, col] = -1
                        col += 1
                    }
                    if solver == nil { solver = try SplittingSolver(graph: g, scaling: IntermediateBounds.crown(g, box: box)) }
                    guard let s = solver else { continue }
                    let bounds = IntermediateBounds.crown(g, box: box, dual: s.dual)
                    var lower = s.dual.evaluate(target: g.output, objectives: c, box: box, bounds: bounds).lower
                    if method == "admm" && lower.contains(where: { $0 <= 0 }) {
                        var settings = Settings()
                        settings.deadline = deadlineMs / 1000
                        var ws = s.makeWorkspace(target: g.output, columns: k - 1)
                        // Only the margins CROWN leaves open need the solver.
                        let open = lower.map { $0 <= 0 }
                        let sol = try s.solve(objectives: c, box: box, bounds: bounds, workspace: &ws, active: open, settings: settings)
                        for j in 0..<(k - 1) where open[j] { lower[j] = max(lower[j], sol.lower[j]) }
                    }
                    let ok = lower.allSatisfy { $0 > 0 }
                    if ok { certified += 1 }
                    entry["certified"] = ok
                    entry["margin_lower"] = lower.min() ?? .nan
                    perInput.append(entry)
                    if isatty(2) != 0 {
                        FileHandle.standardError.write(Data("\rcertify: epsilon \(e), \(i + 1)/\(count)".utf8))
                    }
                }
                if isatty(2) != 0 { FileHandle.standardError.write(Data("\n".utf8)) }
                results.append(["epsilon": e, "certified": certified, "correct": correct, "total": count,
                                "certified_accuracy": Double(certified) / Double(max(1, count)),
                                "clean_accuracy": Double(correct) / Double(max(1, count)), "per_input": perInput])
            }
            let seconds = Date().timeIntervalSince(start)
            if json {
                try Output.json(["model": model, "method": method, "results": results, "seconds": seconds])
            } else {
                for r in results {
                    Output.line(String(format: "epsilon %g: certified accuracy %.3f (%d of %d; clean accuracy %.3f)",
                                       r["epsilon"] as? Double ?? 0, r["certified_accuracy"] as? Double ?? 0,
                                       r["certified"] as? Int ?? 0, count, r["clean_accuracy"] as? Double ?? 0))
                }
                Output.line(String(format: "%.2f s", seconds))
            }
        }
    }
}
