import Foundation
import LinearAlgebra
import ONNXSchema
import SwiftProtobuf

public struct ONNXImportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ file: String, _ message: String) { description = "\(file): \(message)" }
}

/// What `reachguard info` reports besides the graph.
public struct ImportedModel: Sendable {
    public var graph: Graph
    public var file: String
    public var inputName: String
    public var outputName: String
    public var inputShape: [Int]
    public var outputShape: [Int]
    public var opset: Int
    public var producer: String
}

/// Largest model file read (bytes).
public let maximumModelBytes = 512 * 1024 * 1024

/// Largest dense matrix an operator may expand to at import (doubles).
let maximumDenseEntries = 64 * 1024 * 1024

public enum ONNXImporter {
    public static func load(path: String) throws -> ImportedModel {
        // Only regular files of bounded size: a path to /dev/zero or a FIFO must
        // not make us read forever.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw ONNXImportError(path, "cannot read the file (no such file or no permission)")
        }
        guard (attributes[.type] as? FileAttributeType) == .typeRegular else {
            throw ONNXImportError(path, "not a regular file")
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maximumModelBytes else {
            throw ONNXImportError(path, "the file has \(size) bytes; models over \(maximumModelBytes) bytes are refused")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ONNXImportError(path, "cannot read the file (\(error.localizedDescription))")
        }
        return try load(data: data, file: path)
    }

    public static func load(data: Data, file: String) throws -> ImportedModel {
        if data.isEmpty { throw ONNXImportError(file, "the file is empty, not an ONNX model") }
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ONNXImportError(file, "not a valid ONNX model: the protobuf does not decode (\(error)); "
                + "is the file truncated or not ONNX?")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw ONNXImportError(file, "not a valid ONNX model: it has no graph nodes; is the file truncated or not ONNX?")
        }
        var builder = GraphBuilder(file: file, model: model, fileSize: data.count)
        return try builder.build()
    }
}

enum Value {
    case constant(Tensor)
    case dynamic(node: Int, shape: [Int])
}

struct GraphBuilder {
    let file: String
    let model: Onnx_ModelProto
    let fileSize: Int
    var graph = Graph()
    var values: [String: Value] = [:]
    var opset = 0

    init(file: String, model: Onnx_ModelProto, fileSize: Int) {
        self.file = file
        self.model = model
        self.fileSize = fileSize
        for entry in model.opsetImport where entry.domain.isEmpty || entry.domain == "ai.onnx" {
            opset = Int(entry.version)
        }
    }

    func fail(_ message: String) -> ONNXImportError { ONNXImportError(file, message) }

    func fail(_ node: Onnx_NodeProto, _ message: String) -> ONNXImportError {
        ONNXImportError(file, "node '\(node.name.isEmpty ? node.output.first ?? "?" : node.name)' (\(node.opType)): \(message)")
    }

    mutating func build() throws -> ImportedModel {
        let g = model.graph
        for t in g.initializer {
            values[t.name] = .constant(try decodeTensor(t, what: "initializer '\(t.name)'"))
        }
        let realInputs = g.input.filter { values[$0.name] == nil }
        guard realInputs.count == 1 else {
            if realInputs.isEmpty { throw fail("the model has no real input (every graph input is an initializer)") }
            let names = realInputs.map { "'\($0.name)'" }.joined(separator: ", ")
            throw fail("the model has \(realInputs.count) real inputs (\(names)); expected one")
        }
        let input = realInputs[0]
        let inputShape = try resolveInputShape(input)
        let inputNode = graph.addInput(name: input.name, size: Shape.count(inputShape))
        values[input.name] = .dynamic(node: inputNode, shape: inputShape)

        guard g.output.count == 1 else {
            throw fail("the model has \(g.output.count) outputs; expected one")
        }
        try runNodesInDependencyOrder(g.node)

        let outName = g.output[0].name
        guard let out = values[outName] else { throw fail("the graph output '\(outName)' is produced by no node") }
        guard case .dynamic(let outNode, let outShape) = out else {
            throw fail("the graph output '\(outName)' does not depend on the input")
        }
        graph.output = outNode
        let fused = fuseAffineChains(graph).normalized()
        var producer = model.producerName
        if !model.producerVersion.isEmpty { producer += " " + model.producerVersion }
        return ImportedModel(graph: fused, file: file, inputName: input.name, outputName: outName,
                             inputShape: inputShape, outputShape: outShape, opset: opset, producer: producer)
    }

    /// A leading symbolic or zero dimension is the batch and becomes 1; any other
    /// symbolic dimension cannot be resolved.
    func resolveInputShape(_ info: Onnx_ValueInfoProto) throws -> [Int] {
        guard info.type.tensorType.hasShape else {
            throw fail("input '\(info.name)' has no shape; a dynamic shape cannot be resolved")
        }
        var shape: [Int] = []
        for (i, d) in info.type.tensorType.shape.dim.enumerated() {
            switch d.value {
            case .dimValue(let v) where v > 0:
                guard v <= 1 << 24 else { throw fail("input '\(info.name)' dimension \(i) is \(v), too large") }
                shape.append(Int(v))
            case .dimValue, .dimParam, .none:
                if i == 0 { shape.append(1); continue }
                let label = d.dimParam.isEmpty ? "unknown" : "'\(d.dimParam)'"
                throw fail("input '\(info.name)' has a dynamic shape: dimension \(i) is \(label), which cannot be resolved")
            }
        }
        if shape.isEmpty { throw fail("input '\(info.name)' is a scalar; expected a tensor") }
        var total = 1
        for d in shape {
            let (p, o) = total.multipliedReportingOverflow(by: d)
            guard !o, p <= maximumDenseEntries else {
                throw fail("input '\(info.name)' of shape \(shape) has more than \(maximumDenseEntries) values")
            }
            total = p
        }
        return shape
    }

    mutating func runNodesInDependencyOrder(_ nodes: [Onnx_NodeProto]) throws {
        var produced = Set(values.keys)
        var pending = Array(nodes.indices)
        let allOutputs = Set(nodes.flatMap(\.output))
        while !pending.isEmpty {
            var next: [Int] = []
            for i in pending {
                let node = nodes[i]
                if node.input.allSatisfy({ $0.isEmpty || produced.contains($0) }) {
                    try run(node)
                    for o in node.output { produced.insert(o) }
                } else {
                    next.append(i)
                }
            }
            if next.count == pending.count {
                for i in next {
                    for name in nodes[i].input where !name.isEmpty && !produced.contains(name) && !allOutputs.contains(name) {
                        throw fail(nodes[i], "input '\(name)' is produced by no node and is no initializer or graph input")
                    }
                }
                let names = next.prefix(5).map { "'\(nodes[$0].name)'" }.joined(separator: ", ")
                throw fail("the graph has a cycle: nodes \(names) wait on each other")
            }
            pending = next
        }
    }

    // MARK: tensors

    func decodeTensor(_ t: Onnx_TensorProto, what: String) throws -> Tensor {
        if t.dataLocation == .external || !t.externalData.isEmpty {
            throw fail("\(what) uses external data, which is not supported; re-export with the weights inside the file")
        }
        var count = 1
        for d in t.dims {
            guard d >= 0 else { throw fail("\(what) has a negative dimension \(d)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, p <= fileSize else {
                throw fail("\(what) declares more elements than the file could hold")
            }
            count = p
        }
        let shape = t.dims.map { Int($0) }
        var data: [Double]
        let raw = t.rawData
        switch Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) {
        case .float?:
            if !raw.isEmpty {
                guard raw.count == count * 4 else { throw sizeError(what, count, raw.count / 4) }
                data = raw.withUnsafeBytes { p in (0..<count).map { Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))) } }
            } else {
                guard t.floatData.count == count else { throw sizeError(what, count, t.floatData.count) }
                data = t.floatData.map { Double($0) }
            }
        case .double?:
            if !raw.isEmpty {
                guard raw.count == count * 8 else { throw sizeError(what, count, raw.count / 8) }
                data = raw.withUnsafeBytes { p in (0..<count).map { Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) } }
            } else {
                guard t.doubleData.count == count else { throw sizeError(what, count, t.doubleData.count) }
                data = t.doubleData
            }
        case .int64?:
            if !raw.isEmpty {
                guard raw.count == count * 8 else { throw sizeError(what, count, raw.count / 8) }
                data = raw.withUnsafeBytes { p in (0..<count).map { Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) } }
            } else {
                guard t.int64Data.count == count else { throw sizeError(what, count, t.int64Data.count) }
                data = t.int64Data.map { Double($0) }
            }
        case .int32?:
            if !raw.isEmpty {
                guard raw.count == count * 4 else { throw sizeError(what, count, raw.count / 4) }
                data = raw.withUnsafeBytes { p in (0..<count).map { Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) } }
            } else {
                guard t.int32Data.count == count else { throw sizeError(what, count, t.int32Data.count) }
                data = t.int32Data.map { Double($0) }
            }
        default:
            throw fail("\(what) has element type \(t.dataType), not float, double, int32 or int64")
        }
        if let bad = data.firstIndex(where: { !$0.isFinite }) {
            throw fail("\(what) has a non-finite value (\(data[bad])) at index \(bad)")
        }
        return Tensor(shape: shape, data: data)
    }

    func sizeError(_ what: String, _ declared: Int, _ held: Int) -> ONNXImportError {
        fail("\(what) declares \(declared) elements but holds \(held)")
    }

    // MARK: operators

    func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == name }
    }

    func intAttribute(_ node: Onnx_NodeProto, _ name: String, default value: Int) -> Int {
        attribute(node, name).map { Int($0.i) } ?? value
    }

    func floatAttribute(_ node: Onnx_NodeProto, _ name: String, default value: Double) -> Double {
        attribute(node, name).map { Double($0.f) } ?? value
    }

    func intsAttribute(_ node: Onnx_NodeProto, _ name: String) -> [Int]? {
        attribute(node, name).map { $0.ints.map { Int($0) } }
    }

    func value(_ node: Onnx_NodeProto, _ index: Int) throws -> Value {
        guard index < node.input.count, !node.input[index].isEmpty else {
            throw fail(node, "missing input \(index)")
        }
        guard let v = values[node.input[index]] else {
            throw fail(node, "input '\(node.input[index])' is produced by no node")
        }
        return v
    }

    func constant(_ node: Onnx_NodeProto, _ index: Int, role: String) throws -> Tensor {
        guard case .constant(let t) = try value(node, index) else {
            throw fail(node, "\(role) must be a constant (an initializer or a Constant node); it depends on the input")
        }
        return t
    }

    /// A constant input read as integers (shapes, axes): every value must be an
    /// integer that fits an Int, or the node is refused (no trapping conversion).
    func integers(_ node: Onnx_NodeProto, _ index: Int, role: String) throws -> [Int] {
        try constant(node, index, role: role).data.enumerated().map { i, x in
            guard let v = Int(exactly: x) else { throw fail(node, "\(role): value \(i) (\(x)) is not an integer that fits") }
            return v
        }
    }

    mutating func setOutput(_ node: Onnx_NodeProto, _ v: Value) throws {
        guard let name = node.output.first, !name.isEmpty else { throw fail(node, "has no output") }
        values[name] = v
    }

    mutating func addAffine(_ node: Onnx_NodeProto, terms: [AffineTerm], bias: [Double]) throws -> Int {
        if let bad = bias.firstIndex(where: { !$0.isFinite }) {
            throw fail(node, "produces a non-finite bias at index \(bad)")
        }
        for t in terms where !t.map.isFinite { throw fail(node, "produces a non-finite weight") }
        do {
            return try graph.addAffine(name: node.name.isEmpty ? (node.output.first ?? node.opType) : node.name,
                                       terms: terms, bias: bias)
        } catch {
            throw fail(node, "\(error)")
        }
    }

    /// Activations, and the im2col gather table (one index per output pixel and
    /// tap), must fit the same budget as a dense layer; indices are 32-bit.
    func checkConvolutionSize(_ node: Onnx_NodeProto, kernel: [Int], output: [Int], table: [Int]) throws {
        func product(_ xs: [Int]) -> Int? {
            var p = 1
            for x in xs {
                let (q, o) = p.multipliedReportingOverflow(by: x)
                if o || q > maximumDenseEntries { return nil }
                p = q
            }
            return p
        }
        guard product(kernel) != nil, product(output) != nil, product(table) != nil else {
            throw fail(node, "kernel \(kernel), output \(output) or im2col table \(table) exceeds the supported \(maximumDenseEntries) values")
        }
    }

    mutating func run(_ node: Onnx_NodeProto) throws {
        if !(node.domain.isEmpty || node.domain == "ai.onnx") {
            throw fail(node, "unsupported operator '\(node.opType)' from domain '\(node.domain)'")
        }
        switch node.opType {
        case "Identity", "Dropout":
            try setOutput(node, try value(node, 0))
        case "Constant":
            try setOutput(node, .constant(try constantAttribute(node)))
        case _ where ActivationImport.opTypes.contains(node.opType):
            try activation(node)
        case "Gemm":
            try gemm(node)
        case "MatMul":
            try matMul(node)
        case "Add", "Sub", "Mul", "Div":
            try elementwise(node)
        case "Flatten":
            let axisAttr = intAttribute(node, "axis", default: 1)
            try reshapeValue(node) { shape in
                let axis = axisAttr < 0 ? axisAttr + shape.count : axisAttr
                guard axis >= 0 && axis <= shape.count else { return nil }
                return [Shape.count(Array(shape[..<axis])), Shape.count(Array(shape[axis...]))]
            }
        case "Reshape":
            let target: [Int]
            if opset > 0 && opset < 5, let s = intsAttribute(node, "shape") {
                target = s
            } else {
                target = try integers(node, 1, role: "the target shape")
            }
            try reshapeValue(node) { shape in Self.reshaped(shape, to: target) }
        case "Squeeze", "Unsqueeze":
            try squeeze(node)
        case "Conv":
            try conv(node)
        case "BatchNormalization":
            try batchNorm(node)
        case "AveragePool", "GlobalAveragePool":
            try averagePool(node, global: node.opType == "GlobalAveragePool")
        default:
            throw fail(node, "unsupported operator '\(node.opType)'; supported: Gemm, MatMul, Add, Sub, Mul, Div, "
                + ActivationImport.opTypes.sorted().joined(separator: ", ")
                + ", Flatten, Reshape, Squeeze, Unsqueeze, Identity, Constant, Conv, BatchNormalization, "
                + "AveragePool, GlobalAveragePool")
        }
    }

    func constantAttribute(_ node: Onnx_NodeProto) throws -> Tensor {
        if let a = attribute(node, "value") { return try decodeTensor(a.t, what: "Constant '\(node.name)'") }
        if let a = attribute(node, "value_float") { return Tensor(scalar: Double(a.f)) }
        if let a = attribute(node, "value_floats") { return Tensor(shape: [a.floats.count], data: a.floats.map { Double($0) }) }
        if let a = attribute(node, "value_int") { return Tensor(scalar: Double(a.i)) }
        if let a = attribute(node, "value_ints") { return Tensor(shape: [a.ints.count], data: a.ints.map { Double($0) }) }
        throw fail(node, "Constant without a supported value attribute")
    }

    static func reshaped(_ shape: [Int], to target: [Int]) -> [Int]? {
        var out: [Int] = []
        var inferred: Int? = nil
        for (i, d) in target.enumerated() {
            if d == 0 {
                guard i < shape.count else { return nil }
                out.append(shape[i])
            } else if d == -1 {
                guard inferred == nil else { return nil }
                inferred = i
                out.append(1)
            } else if d > 0 {
                out.append(d)
            } else {
                return nil
            }
        }
        let total = Shape.count(shape)
        let known = Shape.count(out)
        if let i = inferred {
            guard known > 0, total % known == 0 else { return nil }
            out[i] = total / known
        }
        return Shape.count(out) == total ? out : nil
    }

    /// Reshapes keep the row-major order, so for activations they only relabel.
    mutating func reshapeValue(_ node: Onnx_NodeProto, _ transform: ([Int]) -> [Int]?) throws {
        switch try value(node, 0) {
        case .constant(let t):
            guard let s = transform(t.shape) else { throw fail(node, "cannot reshape \(t.shape)") }
            try setOutput(node, .constant(Tensor(shape: s, data: t.data)))
        case .dynamic(let v, let shape):
            guard let s = transform(shape) else { throw fail(node, "cannot reshape \(shape)") }
            try setOutput(node, .dynamic(node: v, shape: s))
        }
    }

    mutating func squeeze(_ node: Onnx_NodeProto) throws {
        var axes = intsAttribute(node, "axes")
        if axes == nil, node.input.count > 1, !node.input[1].isEmpty {
            axes = try integers(node, 1, role: "axes")
        }
        let isSqueeze = node.opType == "Squeeze"
        try reshapeValue(node) { shape in
            if isSqueeze {
                guard let axes else { return shape.filter { $0 != 1 } }
                let norm = Set(axes.map { $0 < 0 ? $0 + shape.count : $0 })
                // ONNX: each axis in [-rank, rank) and of size 1.
                guard norm.allSatisfy({ $0 >= 0 && $0 < shape.count && shape[$0] == 1 }) else { return nil }
                return shape.enumerated().filter { !norm.contains($0.offset) }.map(\.element)
            }
            guard let axes else { return nil }
            var out = shape
            let rank = shape.count + axes.count
            for a in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
                guard a >= 0 && a <= out.count else { return nil }
                out.insert(1, at: a)
            }
            return out
        }
    }

    mutating func gemm(_ node: Onnx_NodeProto) throws {
        let alpha = floatAttribute(node, "alpha", default: 1)
        let beta = floatAttribute(node, "beta", default: 1)
        let transA = intAttribute(node, "transA", default: 0) != 0
        let transB = intAttribute(node, "transB", default: 0) != 0
        guard case .dynamic(let x, let xShape) = try value(node, 0) else {
            throw fail(node, "input A must depend on the network input; constant A is not supported")
        }
        let b = try constant(node, 1, role: "weight B")
        guard b.shape.count == 2 else { throw fail(node, "weight B has shape \(b.shape), expected 2-D") }
        // A is one sample: [1, k], its transpose [k, 1], or a 4-D [1, k, 1, 1] as MATLAB writes it.
        let k = Shape.count(xShape)
        let squeezed = xShape.filter { $0 != 1 }
        if squeezed.count > 1 || (transA && xShape.count == 2 && xShape[1] != 1) {
            throw fail(node, "input A has shape \(xShape); only a single sample is supported")
        }
        let (bRows, bCols) = (b.shape[0], b.shape[1])
        let w: Matrix
        if transB {
            guard bCols == k else { throw fail(node, "weight B is \(b.shape) (transB) but A has \(k) values") }
            w = Matrix(rows: bRows, cols: bCols, rowMajor: b.data)
        } else {
            guard bRows == k else { throw fail(node, "weight B is \(b.shape) but A has \(k) values") }
            w = Matrix(rows: bCols, cols: bRows, columnMajor: b.data)   // Bᵀ: row-major B is column-major Bᵀ
        }
        let n = w.rows
        var bias = [Double](repeating: 0, count: n)
        if node.input.count > 2, !node.input[2].isEmpty {
            let c = try constant(node, 2, role: "bias C")
            guard let s = Shape.broadcast([1, n], c.shape), s == [1, n] else {
                throw fail(node, "bias C has shape \(c.shape), which does not broadcast to [1, \(n)]")
            }
            bias = Shape.expand(c, to: [1, n]).map { beta * $0 }
        }
        let weight = alpha == 1 ? w : alpha * w
        let v = try addAffine(node, terms: [AffineTerm(input: x, weight: weight)], bias: bias)
        try setOutput(node, .dynamic(node: v, shape: [1, n]))
    }

    mutating func matMul(_ node: Onnx_NodeProto) throws {
        let a = try value(node, 0)
        let b = try value(node, 1)
        switch (a, b) {
        case (.dynamic(let x, let xShape), .constant(let w)):
            // x [..., k] times W [k, n].
            guard w.shape.count == 2, let k = xShape.last, w.shape[0] == k else {
                throw fail(node, "cannot multiply \(xShape) by a weight of shape \(w.shape)")
            }
            guard Shape.count(xShape) == k else {
                throw fail(node, "input has shape \(xShape); only a single row is supported")
            }
            let n = w.shape[1]
            let weight = Matrix(rows: n, cols: k, columnMajor: w.data)
            let v = try addAffine(node, terms: [AffineTerm(input: x, weight: weight)],
                                  bias: [Double](repeating: 0, count: n))
            try setOutput(node, .dynamic(node: v, shape: Array(xShape.dropLast()) + [n]))
        case (.constant(let w), .dynamic(let x, let xShape)):
            // W [m, k] times x [k] or [k, 1].
            guard w.shape.count == 2, Shape.count(xShape) == w.shape[1],
                  xShape.count == 1 || (xShape.count == 2 && xShape[1] == 1) else {
                throw fail(node, "cannot multiply a weight of shape \(w.shape) by \(xShape)")
            }
            let m = w.shape[0]
            let weight = Matrix(rows: m, cols: w.shape[1], rowMajor: w.data)
            let v = try addAffine(node, terms: [AffineTerm(input: x, weight: weight)],
                                  bias: [Double](repeating: 0, count: m))
            try setOutput(node, .dynamic(node: v, shape: xShape.count == 1 ? [m] : [m, 1]))
        case (.constant(let p), .constant(let q)):
            guard p.shape.count == 2, q.shape.count == 2, p.shape[1] == q.shape[0] else {
                throw fail(node, "cannot multiply constants of shapes \(p.shape) and \(q.shape)")
            }
            let r = Matrix(rows: p.shape[0], cols: p.shape[1], rowMajor: p.data)
                * Matrix(rows: q.shape[0], cols: q.shape[1], rowMajor: q.data)
            try setOutput(node, .constant(Tensor(shape: [r.rows, r.cols], data: r.transposed.data)))
        case (.dynamic, .dynamic):
            throw fail(node, "multiplies two input-dependent tensors, which is not a linear operation")
        }
    }

    mutating func elementwise(_ node: Onnx_NodeProto) throws {
        let op = node.opType
        let a = try value(node, 0)
        let b = try value(node, 1)
        func combine(_ x: Double, _ y: Double) -> Double {
            switch op {
            case "Add": return x + y
            case "Sub": return x - y
            case "Mul": return x * y
            default: return x / y
            }
        }
        switch (a, b) {
        case (.constant(let p), .constant(let q)):
            guard let s = Shape.broadcast(p.shape, q.shape) else {
                throw fail(node, "shapes \(p.shape) and \(q.shape) do not broadcast")
            }
            // Two small constants can broadcast to an enormous one ([n, 1] with [1, n]).
            guard Shape.count(s) <= maximumDenseEntries else {
                throw fail(node, "constants broadcast to shape \(s), which exceeds \(maximumDenseEntries) values")
            }
            let data = zip(Shape.expand(p, to: s), Shape.expand(q, to: s)).map { combine($0, $1) }
            try setOutput(node, .constant(Tensor(shape: s, data: data)))
        case (.dynamic(let x, let xShape), .constant(let c)), (.constant(let c), .dynamic(let x, let xShape)):
            let constantFirst: Bool
            if case .constant = a { constantFirst = true } else { constantFirst = false }
            guard let s = Shape.broadcast(xShape, c.shape),
                  Shape.squeezedLeading(s) == Shape.squeezedLeading(xShape) else {
                throw fail(node, "constant of shape \(c.shape) would broadcast the input-dependent tensor \(xShape)")
            }
            let cv = Shape.expand(c, to: s)
            let n = cv.count
            var scale = [Double](repeating: 1, count: n)
            var bias = [Double](repeating: 0, count: n)
            switch (op, constantFirst) {
            case ("Add", _): bias = cv
            case ("Sub", false): bias = cv.map { -$0 }
            case ("Sub", true): scale = scale.map { -$0 }; bias = cv
            case ("Mul", _): scale = cv
            case ("Div", false):
                if let z = cv.firstIndex(of: 0) { throw fail(node, "divides by zero at index \(z)") }
                scale = cv.map { 1 / $0 }
            default:
                // c / x = c · (1/x): the reciprocal, then the scale.
                scale = cv
                let r = try reciprocal(node, of: x)
                let v = try addAffine(node, terms: [AffineTerm(input: r, map: .diagonal(scale))], bias: bias)
                try setOutput(node, .dynamic(node: v, shape: s))
                return
            }
            let v = try addAffine(node, terms: [AffineTerm(input: x, map: .diagonal(scale))], bias: bias)
            try setOutput(node, .dynamic(node: v, shape: s))
        case (.dynamic(let x, let xs), .dynamic(let y, let ys)):
            if op == "Mul" && x == y {
                try applyOperator(node, Power(exponent: 2), to: .dynamic(node: x, shape: xs))
                return
            }
            guard Shape.squeezedLeading(xs) == Shape.squeezedLeading(ys) else {
                throw fail(node, "combines tensors of shapes \(xs) and \(ys); broadcasting between activations "
                    + "is not supported")
            }
            if op == "Mul" || op == "Div" {
                let shape = xs.count >= ys.count ? xs : ys
                try applyProduct(node, x, op == "Mul" ? y : try reciprocal(node, of: y), shape: shape)
                return
            }
            let n = Shape.count(xs)
            let sign: Double = op == "Add" ? 1 : -1
            let terms = x == y
                ? [AffineTerm(input: x, map: .diagonal([Double](repeating: 1 + sign, count: n)))]
                : [AffineTerm(input: x, map: .identity(n)), AffineTerm(input: y, map: .diagonal([Double](repeating: sign, count: n)))]
            let v = try addAffine(node, terms: terms, bias: [Double](repeating: 0, count: n))
            try setOutput(node, .dynamic(node: v, shape: xs.count >= ys.count ? xs : ys))
        }
    }

    mutating func conv(_ node: Onnx_NodeProto) throws {
        guard case .dynamic(let x, let xShape) = try value(node, 0) else {
            throw fail(node, "input X must depend on the network input")
        }
        let w = try constant(node, 1, role: "kernel W")
        guard xShape.count == 4, w.shape.count == 4 else {
            throw fail(node, "only 2-D convolutions are supported (input \(xShape), kernel \(w.shape))")
        }
        guard xShape[0] == 1 else { throw fail(node, "batch size \(xShape[0]) is not supported") }
        let (c, h, wd) = (xShape[1], xShape[2], xShape[3])
        let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let group = intAttribute(node, "group", default: 1)
        guard m >= 1, kh >= 1, kw >= 1 else { throw fail(node, "kernel W has an empty dimension: \(w.shape)") }
        guard group >= 1, c % group == 0, m % group == 0, cg == c / group else {
            throw fail(node, "kernel \(w.shape) does not match \(c) input channels in \(group) groups")
        }
        let strides = intsAttribute(node, "strides") ?? [1, 1]
        let dil = intsAttribute(node, "dilations") ?? [1, 1]
        var pads = intsAttribute(node, "pads") ?? [0, 0, 0, 0]
        if let ks = intsAttribute(node, "kernel_shape"), ks != [kh, kw] {
            throw fail(node, "kernel_shape \(ks) differs from the kernel's \([kh, kw])")
        }
        guard strides.count == 2, dil.count == 2, pads.count == 4,
              (strides + dil).allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }), pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
            throw fail(node, "invalid strides, dilations or pads")
        }
        if let autoPad = attribute(node, "auto_pad").flatMap({ String(data: $0.s, encoding: .utf8) }),
           autoPad != "NOTSET" && !autoPad.isEmpty {
            if autoPad == "VALID" {
                pads = [0, 0, 0, 0]
            } else {
                // SAME_UPPER / SAME_LOWER: output = ceil(input / stride).
                var p = [0, 0, 0, 0]
                for (i, size) in [h, wd].enumerated() {
                    let out = (size + strides[i] - 1) / strides[i]
                    let k = [kh, kw][i]
                    let total = max(0, (out - 1) * strides[i] + (k - 1) * dil[i] + 1 - size)
                    let small = total / 2
                    p[i] = autoPad == "SAME_LOWER" ? total - small : small
                    p[i + 2] = total - p[i]
                }
                pads = p
            }
        }
        // The dilated kernel must fit the padded input (Swift's division truncates toward zero).
        let spanY = h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1
        let spanX = wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1
        guard spanY >= 0, spanX >= 0 else { throw fail(node, "the kernel does not fit the input \(xShape)") }
        let oh = spanY / strides[0] + 1
        let ow = spanX / strides[1] + 1
        try checkConvolutionSize(node, kernel: [m, cg, kh, kw], output: [m, oh, ow], table: [oh, ow, cg, kh, kw])
        let rows = m * oh * ow
        let convolution = Convolution2D(inChannels: c, inHeight: h, inWidth: wd, outChannels: m,
                                        kernelHeight: kh, kernelWidth: kw, kernel: w.data,
                                        stride: (strides[0], strides[1]), pads: (pads[0], pads[1], pads[2], pads[3]),
                                        dilation: (dil[0], dil[1]), groups: group)
        var bias = [Double](repeating: 0, count: rows)
        if node.input.count > 2, !node.input[2].isEmpty {
            let b = try constant(node, 2, role: "bias B")
            guard b.count == m else { throw fail(node, "bias has \(b.count) values for \(m) output channels") }
            for oc in 0..<m { for p in 0..<(oh * ow) { bias[oc * oh * ow + p] = b.data[oc] } }
        }
        let v = try addAffine(node, terms: [AffineTerm(input: x, map: .convolution(convolution))], bias: bias)
        try setOutput(node, .dynamic(node: v, shape: [1, m, oh, ow]))
    }

    /// Average pooling is linear: a depthwise convolution and a scale.
    mutating func averagePool(_ node: Onnx_NodeProto, global: Bool) throws {
        guard case .dynamic(let x, let xShape) = try value(node, 0) else {
            throw fail(node, "input X must depend on the network input")
        }
        guard xShape.count == 4, xShape[0] == 1 else { throw fail(node, "expects one [1, C, H, W] input, got \(xShape)") }
        let (c, h, w) = (xShape[1], xShape[2], xShape[3])
        var kernel = [h, w], strides = [1, 1], pads = [0, 0, 0, 0]
        var includePad = false
        if !global {
            guard let k = intsAttribute(node, "kernel_shape"), k.count == 2, k.allSatisfy({ $0 >= 1 }) else {
                throw fail(node, "needs a 2-D kernel_shape")
            }
            kernel = k
            strides = intsAttribute(node, "strides") ?? [1, 1]
            pads = intsAttribute(node, "pads") ?? [0, 0, 0, 0]
            includePad = intAttribute(node, "count_include_pad", default: 0) != 0
            if intAttribute(node, "ceil_mode", default: 0) != 0 { throw fail(node, "ceil_mode = 1 is not supported") }
            if let d = intsAttribute(node, "dilations"), d.contains(where: { $0 != 1 }) {
                throw fail(node, "dilations \(d) are not supported for pooling")
            }
            if let a = attribute(node, "auto_pad").flatMap({ String(data: $0.s, encoding: .utf8) }), a != "NOTSET", !a.isEmpty, a != "VALID" {
                throw fail(node, "auto_pad \(a) is not supported")
            }
            guard strides.count == 2, pads.count == 4, strides.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }),
                  pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }), kernel.allSatisfy({ $0 <= 1 << 16 }) else {
                throw fail(node, "invalid strides or pads")
            }
        }
        let spanY = h + pads[0] + pads[2] - kernel[0], spanX = w + pads[1] + pads[3] - kernel[1]
        guard spanY >= 0, spanX >= 0 else { throw fail(node, "the kernel does not fit the input \(xShape)") }
        let oh = spanY / strides[0] + 1
        let ow = spanX / strides[1] + 1
        try checkConvolutionSize(node, kernel: [c, kernel[0], kernel[1]], output: [c, oh, ow], table: [oh, ow, kernel[0], kernel[1]])
        // A depthwise convolution summing each window, then the divisor per output.
        let sum = Convolution2D(inChannels: c, inHeight: h, inWidth: w, outChannels: c,
                                kernelHeight: kernel[0], kernelWidth: kernel[1],
                                kernel: [Double](repeating: 1, count: c * kernel[0] * kernel[1]),
                                stride: (strides[0], strides[1]), pads: (pads[0], pads[1], pads[2], pads[3]), groups: c)
        var divisors = [Double](repeating: 0, count: c * oh * ow)
        for oy in 0..<oh {
            for ox in 0..<ow {
                let ys = (0..<kernel[0]).filter { let iy = oy * strides[0] - pads[0] + $0; return iy >= 0 && iy < h }.count
                let xs = (0..<kernel[1]).filter { let ix = ox * strides[1] - pads[1] + $0; return ix >= 0 && ix < w }.count
                let divisor = Double(includePad ? kernel[0] * kernel[1] : max(1, ys * xs))
                for ch in 0..<c { divisors[(ch * oh + oy) * ow + ox] = 1 / divisor }
            }
        }
        let pooled = LinearMap.convolution(sum).scaled(left: divisors, right: nil)
        let v = try addAffine(node, terms: [AffineTerm(input: x, map: pooled)],
                              bias: [Double](repeating: 0, count: c * oh * ow))
        try setOutput(node, .dynamic(node: v, shape: [1, c, oh, ow]))
    }

    /// Inference-mode batch normalisation is a per-channel affine map.
    mutating func batchNorm(_ node: Onnx_NodeProto) throws {
        guard case .dynamic(let x, let xShape) = try value(node, 0) else {
            throw fail(node, "input X must depend on the network input")
        }
        guard xShape.count >= 2 else { throw fail(node, "input has shape \(xShape); expected [N, C, ...]") }
        let c = xShape[1]
        let scale = try constant(node, 1, role: "scale")
        let shift = try constant(node, 2, role: "B")
        let mean = try constant(node, 3, role: "mean")
        let variance = try constant(node, 4, role: "var")
        guard [scale, shift, mean, variance].allSatisfy({ $0.count == c }) else {
            throw fail(node, "parameters must have \(c) values, one per channel")
        }
        let eps = floatAttribute(node, "epsilon", default: 1e-5)
        let spatial = Shape.count(Array(xShape.dropFirst(2)))
        var diag = [Double](repeating: 0, count: c * spatial)
        var bias = diag
        for ch in 0..<c {
            guard variance.data[ch] + eps > 0 else { throw fail(node, "variance of channel \(ch) is not positive") }
            let s = scale.data[ch] / (variance.data[ch] + eps).squareRoot()
            for p in 0..<spatial {
                diag[ch * spatial + p] = s
                bias[ch * spatial + p] = shift.data[ch] - mean.data[ch] * s
            }
        }
        let v = try addAffine(node, terms: [AffineTerm(input: x, map: .diagonal(diag))], bias: bias)
        try setOutput(node, .dynamic(node: v, shape: xShape))
    }
}

/// Composes affine nodes that feed only one other affine node (input
/// normalisation, MatMul followed by Add, Conv with a bias), so that exports in
/// different operator styles give the same layers.
func fuseAffineChains(_ g: Graph) -> Graph {
    var nodes = g.nodes
    var consumers = g.consumers
    var removed = Set<Int>()
    for v in nodes.indices {
        guard case .affine(var a) = nodes[v].operation else { continue }
        var changed = true
        while changed {
            changed = false
            for (ti, term) in a.terms.enumerated() {
                let u = term.input
                guard u != g.output, consumers[u] == [v], case .affine(let inner) = nodes[u].operation else { continue }
                // W·(Σ V_j y_j + c) = Σ (W V_j) y_j + W c, where each product has a stored
                // form (a convolution after a convolution stays two nodes).
                var newTerms = a.terms
                newTerms.remove(at: ti)
                var fusable = true
                for t in inner.terms {
                    guard let product = LinearMap.compose(term.map, t.map, maximumDenseEntries: maximumDenseEntries) else {
                        fusable = false
                        break
                    }
                    if let existing = newTerms.firstIndex(where: { $0.input == t.input }) {
                        guard let total = LinearMap.sum(newTerms[existing].map, product, maximumDenseEntries: maximumDenseEntries) else {
                            fusable = false
                            break
                        }
                        newTerms[existing].map = total
                    } else {
                        newTerms.append(AffineTerm(input: t.input, map: product))
                    }
                }
                guard fusable else { continue }
                for t in inner.terms {
                    consumers[t.input].removeAll { $0 == u }
                    if !consumers[t.input].contains(v) { consumers[t.input].append(v) }
                }
                var bias = a.bias
                term.map.apply(inner.bias, into: &bias, beta: 1)
                a = Affine(terms: newTerms, bias: bias)
                removed.insert(u)
                consumers[u] = []
                changed = true
                break
            }
        }
        nodes[v].operation = .affine(a)
    }
    // Rebuild in order without the removed nodes.
    var result = Graph()
    var map = [Int](repeating: -1, count: nodes.count)
    for (v, node) in nodes.enumerated() where !removed.contains(v) {
        switch node.operation {
        case .input:
            map[v] = result.addInput(name: node.name, size: node.size)
        case .affine(let a):
            let terms = a.terms.sorted { $0.input < $1.input }.map { AffineTerm(input: map[$0.input], map: $0.map) }
            map[v] = (try? result.addAffine(name: node.name, terms: terms, bias: a.bias)) ?? -1
        case .elementwise(let op, let u):
            map[v] = (try? result.addElementwise(name: node.name, op, input: map[u])) ?? -1
        case .product(let u):
            map[v] = (try? result.addProduct(name: node.name, input: map[u])) ?? -1
        }
    }
    result.output = map[g.output]
    return result
}
