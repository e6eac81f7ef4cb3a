import ArgumentParser
import Foundation
import Network

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print a model's input and output sizes, layers and parameter count.",
        discussion: """
        Example:
          reachguard info Config/double_integrator/controller.onnx
          reachguard info model.onnx --json
        """)

    @Argument(help: "The ONNX model.") var model: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try Output.run {
            let m = try ONNXImporter.load(path: model)
            let g = m.graph
            var layers: [[String: Any]] = []
            for (i, node) in g.nodes.enumerated() where i > 0 {
                switch node.operation {
                case .input: break
                case .affine(let a):
                    layers.append(["kind": "affine", "name": node.name, "size": node.size,
                                   "inputs": a.terms.map { g.nodes[$0.input].size },
                                   "maps": a.terms.map { $0.map.summary }])
                case .elementwise(let op, _):
                    layers.append(["kind": "activation", "operator": "\(op)", "name": node.name, "size": node.size])
                case .product:
                    layers.append(["kind": "activation", "operator": "product", "name": node.name, "size": node.size])
                }
            }
            if json {
                try Output.json([
                    "file": model, "producer": m.producer, "opset": m.opset,
                    "input": ["name": m.inputName, "shape": m.inputShape, "size": g.inputSize],
                    "output": ["name": m.outputName, "shape": m.outputShape, "size": g.outputSize],
                    "layers": layers, "parameters": g.parameterCount,
                    "activations": layers.filter { ($0["kind"] as? String) == "activation" }
                        .reduce(0) { $0 + (($1["size"] as? Int) ?? 0) },
                ])
                return
            }
            Output.line("model: \(model)\(m.producer.isEmpty ? "" : " (\(m.producer), opset \(m.opset))")")
            Output.line("input: '\(m.inputName)' shape \(m.inputShape), \(g.inputSize) values")
            Output.line("output: '\(m.outputName)' shape \(m.outputShape), \(g.outputSize) values")
            Output.line("layers:")
            for (i, layer) in layers.enumerated() {
                let size = layer["size"] as? Int ?? 0
                if layer["kind"] as? String == "activation" {
                    Output.line("  \(i + 1). \(layer["operator"] as? String ?? "?")   \(size)")
                } else {
                    let ins = (layer["inputs"] as? [Int] ?? []).map(String.init).joined(separator: " + ")
                    let maps = (layer["maps"] as? [String] ?? []).joined(separator: " + ")
                    Output.line("  \(i + 1). affine \(ins) -> \(size)  [\(maps)]")
                }
            }
            Output.line("parameters: \(g.parameterCount)")
        }
    }
}
