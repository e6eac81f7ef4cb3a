import ArgumentParser
import Foundation
import Network
import Splitting
import Verification

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Decide a VNN-LIB property: sat (with a counterexample), unsat, unknown or timeout.",
        discussion: """
        The first word on standard output is exactly one of sat, unsat, unknown, timeout, error
        (the VNN-COMP convention). `unsat` means the property's violation is proven impossible
        (the network is safe for it); `sat` is printed only with a concrete counterexample,
        checked by a forward pass, which follows in VNN-COMP's ((X_0 v) ... (Y_0 v)) form.

        Order of work: random samples and a pattern search, a gradient attack (PGD, up to a tenth of
        the time limit and at most 2 s), then branch and bound. With up to 5 inputs the input box is
        split (the coordinate of largest influence first; each part bounded by CROWN, α-CROWN, then
        ADMM); with more, unstable ReLUs are split (BaBSR's choice), each domain bounded by CROWN, then
        α-CROWN from its parent's slopes (--slope-iterations), then with --domain-iterations N by ADMM
        warm-started from its parent's (by default only a domain with every neuron fixed, whose LP is
        exact). --json reports the domains bounded and proven, the splits, the most domains open at
        once, and α-CROWN's iterations and the domains it proved.

        Exit codes: 0 when an answer (sat, unsat, unknown, timeout) was printed; 1 on error
        (the first word is then `error`); 64 on a usage error.

        Example:
          reachguard verify model.onnx prop.vnnlib --timeout 60
        """)

    @Argument(help: "The ONNX model.") var model: String
    @Argument(help: "The VNN-LIB property.") var property: String
    @Option(help: "Time limit in seconds.") var timeout: Double = 60
    @OptionGroup var options: VerifyOptions
    @Flag(help: "Print one JSON object instead of the VNN-COMP text.") var json = false

    func validate() throws {
        try OptionCheck.seconds(timeout, "--timeout")
    }

    func run() throws {
        ReachGuard.prepare()
        do {
            let report = try options.decide(model: model, property: property, timeout: timeout)
            if json {
                try Output.json(report.object)
            } else {
                Output.line(report.vnncompText)
            }
            Output.log("verify: \(report.answer.word) in \(String(format: "%.3f", report.seconds)) s, "
                + "\(report.boxesBounded) boxes bounded, \(report.splits) splits, "
                + "\(report.domainsBounded) ReLU domains")
        } catch {
            Output.line("error")
            Output.log("error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// The options of a verification run, shared by `verify` and `verify-suite`.
struct VerifyOptions: ParsableArguments {
    @Option(help: "Intermediate bounds: crown (default) or lp.") var intermediates: String = "crown"
    @Option(help: """
        Splitting: auto (input boxes up to 5 inputs, ReLU splits above), input, relu, or none (the root bound only).
        """)
    var branching: String = "auto"
    @Option(help: "ADMM iterations on each ReLU domain α-CROWN leaves open (0, the default: only on fully split ones).")
    var domainIterations: Int = 0
    @Option(help: "α-CROWN iterations on each ReLU domain's rows before ADMM (0: none).")
    var slopeIterations: Int = 20
    @Option(help: "Which ReLU to split: babsr (default), fsb (filtered smart branching) or intercept.")
    var branchingRule: String = "babsr"

    func validate() throws {
        try OptionCheck.choice(intermediates, "--intermediates", IntermediateMethod.allCases.map(\.rawValue))
        try OptionCheck.choice(branching, "--branching", ["auto", "input", "relu", "none"])
        try OptionCheck.count(domainIterations, "--domain-iterations", in: 0...100_000)
        try OptionCheck.count(slopeIterations, "--slope-iterations", in: 0...100_000)
        try OptionCheck.choice(branchingRule, "--branching-rule", BranchingRule.allCases.map(\.rawValue))
    }

    /// Loads both files, checks they fit, and decides the property within `timeout` seconds.
    func decide(model: String, property: String, timeout: Double) throws -> VerificationReport {
        let m = try ONNXImporter.load(path: model)
        let p = try VNNLIBParser.parse(path: property)
        guard p.inputCount == m.graph.inputSize else {
            throw CommandFailure("\(property) declares \(p.inputCount) inputs; \(model) takes \(m.graph.inputSize)")
        }
        guard p.outputCount == m.graph.outputSize else {
            throw CommandFailure("\(property) declares \(p.outputCount) outputs; \(model) gives \(m.graph.outputSize)")
        }
        guard let method = IntermediateMethod(rawValue: intermediates) else {
            throw CommandFailure("--intermediates must be crown or lp, not '\(intermediates)'")
        }
        var verifier = Verifier(graph: m.graph)
        verifier.intermediates = method
        verifier.domainIterations = domainIterations
        verifier.slopeIterations = slopeIterations
        verifier.branchingRule = BranchingRule(rawValue: branchingRule) ?? .babsr
        switch branching {
        case "input": verifier.inputSplitLimit = Int.max
        case "relu": verifier.inputSplitLimit = 0
        case "none":
            verifier.inputSplitLimit = 0
            verifier.maximumDomains = 0
        default: break
        }
        return try verifier.verify(p, timeout: timeout)
    }
}

extension VerificationReport {
    /// VNN-COMP's result text: the answer, then for `sat` the counterexample as ((X_0 v) ... (Y_0 v)).
    var vnncompText: String {
        guard case .sat(let x, let y) = answer else { return answer.word }
        var lines = x.enumerated().map { "(X_\($0.offset) \(String(format: "%.17g", $0.element)))" }
        lines += y.enumerated().map { "(Y_\($0.offset) \(String(format: "%.17g", $0.element)))" }
        return answer.word + "\n(" + lines.joined(separator: "\n ") + ")"
    }

    var object: [String: Any] {
        var obj: [String: Any] = ["result": answer.word, "seconds": seconds,
                                  "boxes_bounded": boxesBounded, "boxes_proven": boxesProven,
                                  "splits": splits, "iterations": iterations,
                                  "domains_bounded": domainsBounded, "domains_proven": domainsProven,
                                  "relu_splits": reluSplits, "largest_open_list": largestOpenList,
                                  "slope_iterations": slopeIterations,
                                  "domains_proven_by_slopes": domainsProvenBySlopes]
        if case .sat(let x, let y) = answer { obj["counterexample"] = ["input": x, "output": y] }
        return obj
    }
}
