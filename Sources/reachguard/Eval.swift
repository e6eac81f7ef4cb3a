import ArgumentParser
import Foundation
import Network

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model at one input (forward pass).",
        discussion: """
        Example:
          reachguard eval Config/double_integrator/controller.onnx --input 1.0,-0.5
          reachguard eval model.onnx --input 0.1,0.2,0.3,0.4 --json
        """)

    @Argument(help: "The ONNX model.") var model: String
    @Option(help: "Comma-separated input values, flattened in row-major order.") var input: String
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try OptionCheck.numbers(input, "--input")
    }

    func run() throws {
        try Output.run {
            let m = try ONNXImporter.load(path: model)
            let x = try parseNumbers(input, field: "--input")
            guard x.count == m.graph.inputSize else {
                throw CommandFailure("--input has \(x.count) values; '\(m.inputName)' of \(model) takes \(m.graph.inputSize)")
            }
            let y = m.graph.evaluate(x)
            if json {
                try Output.json(["input": x, "output": y])
            } else {
                Output.line(y.map { String(format: "%.9g", $0) }.joined(separator: " "))
            }
        }
    }
}
