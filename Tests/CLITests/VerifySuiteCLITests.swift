import Foundation
import XCTest

/// `verify-suite` on the branch-and-bound fixture list (answers from exact MILP, see
/// Scripts/make_bab_fixtures.py) and the VNN-COMP scripts on one of its instances.
final class VerifySuiteCLITests: XCTestCase {
    let list = "Tests/Fixtures/bab/instances.csv"

    func truths() throws -> [String: String] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/bab/expected.json"))
        let cases = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        var out: [String: String] = [:]
        for c in cases { out[c["vnnlib"] as? String ?? ""] = c["truth"] as? String }
        return out
    }

    /// Two shards cover the list exactly once, and every row's answer is the MILP's.
    func testShardsCoverTheListWithTheRightAnswers() throws {
        let truth = try truths()
        var seen: [String] = []
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-suite-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for shard in ["0/2", "1/2"] {
            let file = dir.appendingPathComponent("rows-\(shard.prefix(1)).csv").path
            let r = try runCLI(["verify-suite", list, "--shard", shard, "--results", file])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "")
            let rows = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            for row in rows {
                let f = row.split(separator: ",").map(String.init)
                XCTAssertEqual(f.count, 4, String(row))
                XCTAssertEqual(f[2], truth[f[1]], String(row))
                seen.append(f[1])
            }
        }
        XCTAssertEqual(seen.sorted(), truth.keys.sorted())
    }

    func testBadShardAndBadListAreOneLineErrors() throws {
        let bad = try runCLI(["verify-suite", list, "--shard", "2/2"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--shard"), bad.stderr)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-suite-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("instances.csv")
        try Data("a.onnx,b.vnnlib,20\nnot a row\n".utf8).write(to: file)
        let r = try runCLI(["verify-suite", file.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("line 2"), r.stderr)
    }

    /// A list saved by a spreadsheet (byte-order mark, CRLF line ends) reads the same, and a row is written
    /// for each instance as it finishes.
    func testListWithByteOrderMarkAndCRLFLineEnds() throws {
        let truth = try truths()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-suite-crlf-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/bab").path
        let picked = try String(contentsOfFile: fixtures + "/instances.csv", encoding: .utf8)
            .split(separator: "\n").prefix(3).map { line in
                line.split(separator: ",").enumerated().map { $0.offset < 2 ? fixtures + "/" + $0.element : $0.element }
                    .joined(separator: ",")
            }
        let file = dir.appendingPathComponent("instances.csv")
        try Data(("\u{FEFF}" + picked.joined(separator: "\r\n") + "\r\n").utf8).write(to: file)
        let r = try runCLI(["verify-suite", file.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 3, r.stdout)
        for row in rows {
            let f = row.split(separator: ",").map(String.init)
            XCTAssertEqual(f.count, 4, String(row))
            XCTAssertEqual(f[2], truth[URL(fileURLWithPath: f[1]).lastPathComponent], String(row))
        }
    }

    /// A timeout that is not a number is refused with one line and an `error` results file.
    func testRunInstanceRefusesANonNumericTimeout() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-vnncomp-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let results = dir.appendingPathComponent("results.txt").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["Scripts/vnncomp/run_instance.sh", "v1", "bab-fixtures", "Tests/Fixtures/bab/t_6_24_24_4.onnx",
                       "Tests/Fixtures/bab/t_6_24_24_4_robust_sat_hidden.vnnlib", results, "20s; rm -rf /"]
        p.currentDirectoryURL = repositoryRoot
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.contains("TIMEOUT"), message)
        XCTAssertEqual(try String(contentsOfFile: results, encoding: .utf8), "error\n")
    }

    /// run_instance.sh writes VNN-COMP's results file: `sat` and a counterexample the network confirms.
    func testRunInstanceScriptWritesTheCompetitionsResultsFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-vnncomp-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let results = dir.appendingPathComponent("results.txt").path
        let onnx = "Tests/Fixtures/bab/t_6_24_24_4.onnx"
        let vnnlib = "Tests/Fixtures/bab/t_6_24_24_4_robust_sat_hidden.vnnlib"
        for script in ["prepare_instance.sh", "run_instance.sh"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["Scripts/vnncomp/" + script, "v1", "bab-fixtures", onnx, vnnlib]
                + (script == "run_instance.sh" ? [results, "20"] : [])
            p.currentDirectoryURL = repositoryRoot
            p.environment = ProcessInfo.processInfo.environment.merging(
                ["REACHGUARD_BIN": Bundle.main.bundleURL.appendingPathComponent("reachguard").path]) { $1 }
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, script)
        }
        let text = try String(contentsOfFile: results, encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.first, "sat")
        // ((X_0 v) ... (Y_0 v)): the input values, evaluated again, give the outputs printed.
        let pairs = text.matches(of: /\((X|Y)_(\d+) ([-0-9.eE+]+)\)/).map { (String($0.1), Double($0.3) ?? .nan) }
        let x = pairs.filter { $0.0 == "X" }.map(\.1), y = pairs.filter { $0.0 == "Y" }.map(\.1)
        XCTAssertEqual(x.count, 6)
        XCTAssertEqual(y.count, 4)
        let eval = try runCLI(["eval", onnx, "--input=" + x.map { String($0) }.joined(separator: ","), "--json"])
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        let out = try XCTUnwrap(obj["output"] as? [Double], eval.stdout)
        for (a, b) in zip(out, y) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }
}
