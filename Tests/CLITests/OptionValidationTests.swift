import Foundation
import XCTest

/// Every numeric option is checked before any work: a usage error (exit 64)
/// whose first line names the option, and nothing on standard output.
final class OptionValidationTests: XCTestCase {
    let model = "Tests/Fixtures/lp/t_4_50_50_3.onnx"
    let system = "Config/double_integrator/system.toml"

    func assertUsageError(_ arguments: [String], naming option: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(arguments)
        XCTAssertEqual(r.status, 64, "\(arguments): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.contains(option), "\(arguments): \(first)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), file: file, line: line)
    }

    func testBoundRefusesNonFiniteAndOutOfRangeValues() throws {
        let box = try writeTemporary("opt-box.json", "{\"lower\": [0, 0, 0, 0], \"upper\": [1, 1, 1, 1]}")
        for bad in ["nan", "inf", "0", "-1", "2"] {
            try assertUsageError(["bound", model, "--box", box, "--tolerance=\(bad)"], naming: "--tolerance")
        }
        try assertUsageError(["bound", model, "--box", box, "--max-iterations=-1"], naming: "--max-iterations")
        for bad in ["nan", "-5", "1e300", "inf"] {
            try assertUsageError(["bound", model, "--box", box, "--deadline-ms=\(bad)"], naming: "--deadline-ms")
        }
        try assertUsageError(["bound", model, "--box", box, "--method", "simplex"], naming: "--method")
        try assertUsageError(["bound", model, "--box", box, "--intermediates", "milp"], naming: "--intermediates")
    }

    func testReachRefusesBadPlotDimsHorizonAndLists() throws {
        for bad in ["1e300,0", "-1,0", "0.5,1", "0", "0,1,2", ",", "99999999999999999999,0"] {
            try assertUsageError(["reach", system, "--state", "2.75,0", "--svg", "/dev/null", "--plot-dims", bad],
                                 naming: "--plot-dims")
        }
        try assertUsageError(["reach", system, "--state", "2.75,0", "--horizon", "0"], naming: "--horizon")
        try assertUsageError(["reach", system, "--state", "2.75,0", "--horizon", "100000"], naming: "--horizon")
        try assertUsageError(["reach", system, "--state", "nan,0"], naming: "--state")
        try assertUsageError(["reach", system, "--state", "1e999,0"], naming: "--state")
        try assertUsageError(["reach", system, "--state", "1,0", "--radius", "0.1,-1"], naming: "--radius")
        try assertUsageError(["reach", system, "--state", "1,0", "--strategy", "greedy"], naming: "--strategy")
    }

    func testOtherCommandsRefuseBadNumbers() throws {
        try assertUsageError(["verify", model, "p.vnnlib", "--timeout", "nan"], naming: "--timeout")
        try assertUsageError(["verify", model, "p.vnnlib", "--timeout=-1"], naming: "--timeout")
        try assertUsageError(["verify", model, "p.vnnlib", "--timeout", "1e300"], naming: "--timeout")
        try assertUsageError(["certify", model, "--images", "i.json", "--epsilon", "0.1,nan"], naming: "--epsilon")
        try assertUsageError(["certify", model, "--images", "i.json", "--epsilon", "0.1", "--deadline-ms", "inf"],
                             naming: "--deadline-ms")
        try assertUsageError(["eval", model, "--input", "1,2,nan,4"], naming: "--input")
        try assertUsageError(["simulate", "--config", system, "--rate", "0"], naming: "--rate")
        try assertUsageError(["simulate", "--config", system, "--rate", "nan"], naming: "--rate")
        try assertUsageError(["soak", "--config", system, "--malformed", "1.5"], naming: "--malformed")
        try assertUsageError(["bench", "--repetitions", "0"], naming: "--repetitions")
        try assertUsageError(["bench-conv", "--epsilon", "nan"], naming: "--epsilon")
        try assertUsageError(["bench-monitor", "--config", system, "--count", "0"], naming: "--count")
    }

    /// The solver's own validation covers the diagnostic environment knobs too.
    func testInvalidSolverKnobIsAnErrorNotATrap() throws {
        let box = try writeTemporary("opt-box2.json", "{\"lower\": [0, 0, 0, 0], \"upper\": [1, 1, 1, 1]}")
        setenv("REACHGUARD_RHO", "-1", 1)
        defer { unsetenv("REACHGUARD_RHO") }
        let r = try runCLI(["bound", model, "--box", box])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("rho"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
