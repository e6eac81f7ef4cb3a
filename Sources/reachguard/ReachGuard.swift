import ArgumentParser
import Foundation
import LinearAlgebra

@main
struct ReachGuard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reachguard",
        abstract: "Certified bounds and reachable sets for ReLU networks and the closed loops they control.",
        discussion: """
        Results go to standard output (with --json, exactly one JSON object); logs and \
        progress go to standard error.

        Exit codes: 0 success; 1 the input (model, box, property) is invalid or a \
        computation failed; 64 a command-line usage error. `verify` has its own \
        (see `reachguard verify --help`).

        OpenBLAS runs single-threaded unless REACHGUARD_BLAS_THREADS says otherwise.
        """,
        subcommands: [Info.self, Eval.self, Bound.self, Verify.self, VerifySuite.self, Certify.self, Reach.self,
                      Simulate.self, Watch.self, Keygen.self, Bench.self, BenchConv.self, BenchReach.self,
                      BenchMonitor.self, BenchKernels.self, Soak.self])

    static func prepare() {
        BLASThreads.configureFromEnvironment(ProcessInfo.processInfo.environment)
    }
}

/// A failure reported as one line on standard error, exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Output {
    /// Prints one JSON object on standard output.
    static func json(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func log(_ text: String) {
        FileHandle.standardError.write(Data(("reachguard: " + text + "\n").utf8))
    }

    /// Runs a command body; errors become one line on stderr and exit code 1.
    static func run(_ body: () throws -> Void) throws {
        ReachGuard.prepare()
        do {
            try body()
        } catch let error as CleanExit {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            log("error: \(error)")
            throw ExitCode(1)
        }
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e15 { return String(format: "%.1f", x) }
        return String(format: "%.9g", x)
    }
}

/// Parses "0.1,0.2,-3" into numbers, naming the field at fault.
func parseNumbers(_ text: String, field: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var out: [Double] = []
    for (i, p) in parts.enumerated() {
        let s = p.trimmingCharacters(in: .whitespaces)
        guard let v = Double(s) else { throw CommandFailure("\(field): value \(i) ('\(s)') is not a number") }
        guard v.isFinite else { throw CommandFailure("\(field): value \(i) is not finite") }
        out.append(v)
    }
    return out
}
