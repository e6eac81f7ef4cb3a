import LinearAlgebra
import ONNXSchema

/// The importer's operator table: the ONNX op types that become elementwise
/// operators, and how each one's attributes or constant inputs are read. A
/// new operator is one entry here and its own file in Operators/.
enum ActivationImport {
    static let opTypes: Set<String> = Set(OperatorTable.plain.keys).union([
        "LeakyRelu", "PRelu", "Clip", "HardSigmoid", "Pow",
    ])
}

extension GraphBuilder {
    /// One elementwise node: folded when its input is a constant, otherwise an operator node.
    mutating func activation(_ node: Onnx_NodeProto) throws {
        let input = try value(node, 0)
        if node.opType == "HardSigmoid" {
            // y = clip(α·x + β, 0, 1): its affine part, then a Clip.
            let alpha = try finite(node, floatAttribute(node, "alpha", default: 0.2), "alpha")
            let beta = try finite(node, floatAttribute(node, "beta", default: 0.5), "beta")
            try applyOperator(node, Clip(minimum: 0, maximum: 1), to: try scaledValue(node, input, alpha, beta))
            return
        }
        if node.opType == "Pow", try constant(node, 1, role: "the exponent").data == [1] {
            try setOutput(node, input)
            return
        }
        try applyOperator(node, try elementwiseOperator(node), to: input)
    }

    func elementwiseOperator(_ node: Onnx_NodeProto) throws -> any ElementwiseOperator {
        if let op = OperatorTable.plain[node.opType] { return op }
        switch node.opType {
        case "LeakyRelu":
            return LeakyReLU(alpha: try finite(node, floatAttribute(node, "alpha", default: 0.01), "alpha"))
        case "PRelu":
            let slope = try constant(node, 1, role: "the PRelu slope").data
            guard let first = slope.first, slope.allSatisfy({ $0 == first }) else {
                throw fail(node, "PRelu with per-channel slopes is not supported; only one slope for all values")
            }
            return LeakyReLU(alpha: try finite(node, first, "slope"))
        case "Clip":
            let (lo, hi) = try clipRange(node)
            return Clip(minimum: lo, maximum: hi)
        case "Pow":
            let e = try constant(node, 1, role: "the exponent").data
            guard e.count == 1, let n = Int(exactly: e[0]), n >= 2, n <= Power.largestExponent else {
                throw fail(node, "Pow needs one constant integer exponent from 1 to \(Power.largestExponent), not \(e)")
            }
            return Power(exponent: n)
        default:
            throw fail(node, "unsupported operator '\(node.opType)'")
        }
    }

    /// Clip's range: attributes `min`/`max` before opset 11, optional constant inputs after.
    func clipRange(_ node: Onnx_NodeProto) throws -> (Double, Double) {
        var lo = -Double.infinity, hi = Double.infinity
        if opset > 0 && opset < 11 {
            if let a = attribute(node, "min") { lo = Double(a.f) }
            if let a = attribute(node, "max") { hi = Double(a.f) }
        } else {
            if node.input.count > 1, !node.input[1].isEmpty {
                lo = try scalar(node, 1, "the Clip minimum")
            }
            if node.input.count > 2, !node.input[2].isEmpty {
                hi = try scalar(node, 2, "the Clip maximum")
            }
        }
        guard !lo.isNaN, !hi.isNaN, lo <= hi else { throw fail(node, "Clip range [\(lo), \(hi)] is empty") }
        return (lo, hi)
    }

    func scalar(_ node: Onnx_NodeProto, _ index: Int, _ role: String) throws -> Double {
        let t = try constant(node, index, role: role)
        guard t.data.count == 1 else { throw fail(node, "\(role) must be one value, not \(t.data.count)") }
        return t.data[0]
    }

    func finite(_ node: Onnx_NodeProto, _ x: Double, _ what: String) throws -> Double {
        guard x.isFinite else { throw fail(node, "\(what) is \(x), not a finite number") }
        return x
    }

    /// α·x + β as a value (folded for a constant, an affine node otherwise).
    mutating func scaledValue(_ node: Onnx_NodeProto, _ x: Value, _ alpha: Double, _ beta: Double) throws -> Value {
        switch x {
        case .constant(let t):
            return .constant(Tensor(shape: t.shape, data: t.data.map { alpha * $0 + beta }))
        case .dynamic(let v, let shape):
            let n = graph.nodes[v].size
            let a = try addAffine(node, terms: [AffineTerm(input: v, map: .diagonal([Double](repeating: alpha, count: n)))],
                                  bias: [Double](repeating: beta, count: n))
            return .dynamic(node: a, shape: shape)
        }
    }

    mutating func applyOperator(_ node: Onnx_NodeProto, _ op: any ElementwiseOperator, to input: Value) throws {
        switch input {
        case .constant(let t):
            try setOutput(node, .constant(Tensor(shape: t.shape, data: t.data.map { op.value($0) })))
        case .dynamic(let v, let shape):
            let name = node.name.isEmpty ? (node.output.first ?? "\(op)") : node.name
            let r: Int
            do { r = try graph.addElementwise(name: name, op, input: v) } catch { throw fail(node, "\(error)") }
            try setOutput(node, .dynamic(node: r, shape: shape))
        }
    }
}

extension GraphBuilder {
    /// x·y of two input-dependent tensors of one shape: an affine node holding
    /// x over y (the product node's input), then the product.
    mutating func applyProduct(_ node: Onnx_NodeProto, _ x: Int, _ y: Int, shape: [Int]) throws {
        let n = Shape.count(shape)
        // The stacking maps are 2n × n each; compared as n ≤ √(max/4) so 4n² cannot overflow.
        let most = Int(Double(maximumDenseEntries / 4).squareRoot())
        guard n > 0, n <= most else {
            throw fail(node, "multiplies tensors of \(n) values; at most \(most) are supported")
        }
        var top = Matrix(rows: 2 * n, cols: n), bottom = Matrix(rows: 2 * n, cols: n)
        for i in 0..<n {
            top[i, i] = 1
            bottom[n + i, i] = 1
        }
        let pair = try addAffine(node, terms: [AffineTerm(input: x, weight: top), AffineTerm(input: y, weight: bottom)],
                                 bias: [Double](repeating: 0, count: 2 * n))
        let name = node.name.isEmpty ? (node.output.first ?? node.opType) : node.name
        let p: Int
        do { p = try graph.addProduct(name: name, input: pair) } catch { throw fail(node, "\(error)") }
        try setOutput(node, .dynamic(node: p, shape: shape))
    }

    /// 1/y as its own node (the divisor of a Div of two tensors, or of a constant by a tensor).
    mutating func reciprocal(_ node: Onnx_NodeProto, of y: Int) throws -> Int {
        let name = (node.name.isEmpty ? (node.output.first ?? node.opType) : node.name) + "/reciprocal"
        do { return try graph.addElementwise(name: name, Reciprocal(), input: y) }
        catch { throw fail(node, "\(error)") }
    }
}
