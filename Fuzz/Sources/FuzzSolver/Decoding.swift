import Bounds
import LinearAlgebra
import Network
import Splitting

/// The fuzz bytes read front to back; past the end every byte is 0, so any
/// input, however short, decodes to one definite problem.
struct FuzzBytes {
    let bytes: [UInt8]
    var position = 0

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(byte()) % range.count
    }

    /// A value in [-2, 2) in steps of 1/64.
    mutating func signed() -> Double { Double(Int8(bitPattern: byte())) / 64 }
}

/// A network and an input box, small enough that every bound method runs in milliseconds.
struct Problem {
    var graph: Graph
    var box: Interval
    /// Seed of the probe points, from the input so that a crash reproduces.
    var seed: UInt64
    /// The verifier's property: output[verifyOutput % n] ≤ the probes' minimum
    /// + verifyOffset × their spread, with offsets in [-1, 0.25].
    var verifyOutput: Int
    var verifyOffset: Double
    var verifyIntermediates: IntermediateMethod
}

/// How an affine node's bias is chosen. The stable modes use the IBP bounds of
/// W·x over the box, so whole layers are dead or active on purpose, and the
/// edge modes put a bound exactly on the ReLU's kink, where slopes are decided.
enum BiasMode: Int, CaseIterable {
    case zero, random, dead, active, upperAtZero, lowerAtZero
}

enum ProblemDecoder {
    static let maximumInputs = 4
    static let maximumWidth = 4
    static let maximumOperations = 8

    static func decode(_ data: [UInt8]) -> Problem {
        var r = FuzzBytes(bytes: data)
        let inputs = r.int(1...maximumInputs)
        let operations = r.int(1...maximumOperations)
        let pointBox = r.byte() % 8 == 0
        let box = decodeBox(&r, count: inputs, point: pointBox)
        var graph = Graph()
        graph.addInput(name: "x", size: inputs)
        for k in 0..<operations { addOperation(&r, to: &graph, box: box, index: k) }
        graph.output = graph.nodes.count - 1
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for b in data.prefix(64) { seed = (seed ^ UInt64(b)) &* 0x100_0000_01B3 }
        let methods = IntermediateMethod.allCases
        return Problem(graph: graph.normalized(), box: box, seed: seed, verifyOutput: r.int(0...maximumWidth),
                       verifyOffset: Double(r.int(-8...2)) / 8,
                       verifyIntermediates: methods[r.int(0...(methods.count - 1))])
    }

    /// Centres in [-4, 4); per coordinate a radius of 0 (fixed), 10^-k, up to 4, or 1.
    static func decodeBox(_ r: inout FuzzBytes, count: Int, point: Bool) -> Interval {
        var lower: [Double] = [], upper: [Double] = []
        for _ in 0..<count {
            let centre = 2 * r.signed()
            let mode = r.byte() % 4
            var radius: Double
            switch mode {
            case 0: radius = 0
            case 1: radius = pow10(-r.int(0...6))
            case 2: radius = Double(r.byte()) / 64
            default: radius = 1
            }
            if point { radius = 0 }
            lower.append(centre - radius)
            upper.append(centre + radius)
        }
        return Interval(lower: lower, upper: upper)
    }

    /// Half affine nodes, half ReLUs; a ReLU reads the newest node or, for a
    /// DAG, any earlier one (normalized() gives it its own affine copy).
    static func addOperation(_ r: inout FuzzBytes, to graph: inout Graph, box: Interval, index: Int) {
        let newest = graph.nodes.count - 1
        let kind = r.byte() % 4
        if kind == 2 || kind == 3 {
            let source = kind == 2 ? newest : r.int(0...newest)
            // Inputs exist, so this cannot fail.
            _ = try? graph.addReLU(name: "r\(index)", input: source)
        } else {
            addAffine(&r, to: &graph, box: box, index: index)
        }
    }

    /// z = Σ W_j x_j + b over the newest node and up to two earlier ones (skip connections).
    static func addAffine(_ r: inout FuzzBytes, to graph: inout Graph, box: Interval, index: Int) {
        let newest = graph.nodes.count - 1
        let width = r.int(1...maximumWidth)
        let termCount = r.int(1...3)
        let scale = pow10(r.int(-6...4))
        var inputs = [newest]
        for _ in 1..<termCount { inputs.append(r.int(0...newest)) }
        let terms = inputs.map { u in
            AffineTerm(input: u, weight: decodeWeight(&r, rows: width, cols: graph.nodes[u].size, scale: scale))
        }
        let mode = BiasMode(rawValue: r.int(0...(BiasMode.allCases.count - 1))) ?? .zero
        let bias = decodeBias(&r, mode: mode, terms: terms, graph: graph, box: box, scale: scale)
        // Shapes are right by construction.
        _ = try? graph.addAffine(name: "a\(index)", terms: terms, bias: bias)
    }

    /// Entries of ±2·scale in steps of scale/64; one in eight is exactly zero.
    static func decodeWeight(_ r: inout FuzzBytes, rows: Int, cols: Int, scale: Double) -> Matrix {
        var w = Matrix(rows: rows, cols: cols)
        for j in 0..<cols {
            for i in 0..<rows {
                let b = r.byte()
                w[i, j] = b % 8 == 0 ? 0 : Double(Int8(bitPattern: b)) / 64 * scale
            }
        }
        return w
    }

    static func decodeBias(_ r: inout FuzzBytes, mode: BiasMode, terms: [AffineTerm], graph: Graph,
                           box: Interval, scale: Double) -> [Double] {
        let n = terms[0].map.rows
        if mode == .zero { return [Double](repeating: 0, count: n) }
        if mode == .random { return (0..<n).map { _ in r.signed() * scale } }
        // The range of W·x alone, from IBP over the graph built so far.
        let linear = IBP.affineBounds(Affine(terms: terms, bias: [Double](repeating: 0, count: n)),
                                      IBP.bounds(graph, box: box))
        return (0..<n).map { i in
            let l = linear.lower[i], u = linear.upper[i]
            let gap = 0.5 * (u - l) + 1e-3 * scale
            switch mode {
            case .dead: return -u - gap
            case .active: return -l + gap
            case .upperAtZero: return -u
            default: return -l
            }
        }
    }

    static func pow10(_ e: Int) -> Double {
        var v = 1.0
        for _ in 0..<abs(e) { v *= 10 }
        return e < 0 ? 1 / v : v
    }
}
