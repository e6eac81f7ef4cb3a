import ArgumentParser
import Foundation
import Verification

struct VerifySuite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-suite",
        abstract: "Run a benchmark's instance list (VNN-COMP's instances.csv) and write one result row per instance.",
        discussion: """
        Each line of the list is `onnx,vnnlib,timeout`, paths relative to the list's folder (no header,
        as in VNN-COMP). Instances run one after another in this process, each within its own timeout
        (scaled by --timeout-scale). `--shard I/N` takes the instances whose line number (from 0) is I
        modulo N, so N jobs (a Slurm job array, one shard per task) share a suite; their result files
        concatenate.

        Each result row is `onnx,vnnlib,result,seconds` (result: sat, unsat, unknown, timeout or
        error), on standard output or in --results. With --json, one summary object goes to standard
        output instead. Progress goes to standard error.

        Exit codes: 0 when every instance got a row (errors included, as rows); 1 when the list
        cannot be read; 64 on a usage error.

        Example:
          reachguard verify-suite benchmarks/acasxu/instances.csv --shard 0/4 --results acas-0.csv
        """)

    @Argument(help: "The instance list (onnx,vnnlib,timeout per line).") var instances: String
    @Option(help: "I/N: run only the instances whose index is I modulo N.") var shard: String = "0/1"
    @Option(help: "Write the rows to this CSV file instead of standard output.") var results: String?
    @Option(help: "Multiply every instance's timeout by this factor.") var timeoutScale: Double = 1
    @OptionGroup var options: VerifyOptions
    @Flag(help: "Print one JSON summary object instead of the rows on standard output.") var json = false

    func validate() throws {
        _ = try Self.parseShard(shard)
        try OptionCheck.number(timeoutScale, "--timeout-scale", in: 0...1e6, open: true)
    }

    static func parseShard(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= 1_000_000,
              i >= 0, i < n else {
            throw ValidationError("--shard must be I/N with 0 ≤ I < N ≤ 1000000, not '\(text)'")
        }
        return (i, n)
    }

    struct Instance {
        /// As the list gives them (the rows repeat them), then resolved against the list's folder.
        var listed: (onnx: String, vnnlib: String)
        var onnx: String
        var vnnlib: String
        var timeout: Double
    }

    /// The list's instances, paths resolved against its folder; a malformed line names its number.
    static func load(_ path: String) throws -> [Instance] {
        guard let data = FileManager.default.contents(atPath: path), var text = String(data: data, encoding: .utf8)
        else { throw CommandFailure("\(path): cannot be read as UTF-8 text") }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // spreadsheets save a byte-order mark
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        var out: [Instance] = []
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 3, !f[0].isEmpty, !f[1].isEmpty, let t = Double(f[2]), t.isFinite, t >= 0,
                  t <= OptionCheck.maximumSeconds else {
                throw CommandFailure("\(path): line \(n + 1): expected onnx,vnnlib,timeout (seconds), got '\(line)'")
            }
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : folder.appendingPathComponent(p).path }
            out.append(Instance(listed: (f[0], f[1]), onnx: resolve(f[0]), vnnlib: resolve(f[1]), timeout: t))
        }
        return out
    }

    func run() throws {
        try Output.run {
            let (index, count) = try Self.parseShard(shard)
            let all = try Self.load(instances)
            let mine = all.enumerated().filter { $0.offset % count == index }.map(\.element)
            let sink = try RowSink(path: results)
            var tally: [String: Int] = [:]
            var total = 0.0
            for (k, inst) in mine.enumerated() {
                let (word, seconds) = decide(inst)
                tally[word, default: 0] += 1
                total += seconds
                let row = [inst.listed.onnx, inst.listed.vnnlib, word, String(format: "%.3f", seconds)]
                if !json || results != nil { try sink.write(row.joined(separator: ",") + "\n") }
                Output.log("[\(k + 1)/\(mine.count)] \(word) in \(String(format: "%.2f", seconds)) s: "
                    + URL(fileURLWithPath: inst.vnnlib).lastPathComponent)
            }
            if json {
                try Output.json(["instances": mine.count, "shard": shard, "seconds": total,
                                 "results": tally])
            }
        }
    }

    /// One instance's answer word and wall time; a file error is the row's `error`, not the suite's.
    func decide(_ inst: Instance) -> (String, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let word: String
        let timeout = min(inst.timeout * timeoutScale, OptionCheck.maximumSeconds)
        do {
            word = try options.decide(model: inst.onnx, property: inst.vnnlib, timeout: timeout).answer.word
        } catch {
            Output.log("error: \(error)")
            word = "error"
        }
        return (word, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}

/// Where result rows go, one at a time, so that a suite killed by its scheduler keeps the rows it finished.
final class RowSink {
    private let handle: FileHandle

    init(path: String?) throws {
        self.path = path
        guard let path else {
            handle = FileHandle.standardOutput
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let h = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("--results: cannot write \(path)")
        }
        handle = h
    }

    let path: String?

    /// A failed write (a full disk) is the suite's error, named by file, not a trap.
    func write(_ row: String) throws {
        do { try handle.write(contentsOf: Data(row.utf8)) } catch {
            throw CommandFailure("\(path ?? "standard output"): cannot write a result row (\(error))")
        }
    }
}
