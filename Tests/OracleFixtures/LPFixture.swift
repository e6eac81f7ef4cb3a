import Foundation
import Bounds
import LinearAlgebra
import Network

/// Reference optima from Scripts/make_lp_fixtures.py (HiGHS LP and MILP),
/// shared by the Bounds and Splitting tests.
public let lpFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/lp")

public struct LPFixture: Decodable {
    public struct Range: Decodable {
        public let lower: [Double]
        public let upper: [Double]
        public var interval: Interval { Interval(lower: lower, upper: upper) }
    }
    public struct Case: Decodable {
        public let label: String
        public let box: Range
        public let ibp: [Range]
        public let lp_layers: [Range]
        public let lp: Range
        public let lp_ibp: Range
        public let milp: Range?
        public let sampled: Range
    }
    public let name: String
    public let model: String
    public let layer_sizes: [Int]
    public let cases: [Case]

    public static func load(_ name: String) throws -> LPFixture {
        let data = try Data(contentsOf: lpFixtures.appendingPathComponent(name + ".json"))
        return try JSONDecoder().decode(LPFixture.self, from: data)
    }

    public func graph() throws -> Graph {
        try ONNXImporter.load(path: lpFixtures.appendingPathComponent(model).path).graph
    }

    public static var testSet: [String] {
        ["t_2_8_8_2", "t_3_10_10_10_2", "t_4_50_50_3", "t_5_20_20_1", "t_6_30_30_30_4"]
    }
}

/// Per-node bounds with the given pre-activation layer bounds (in topological order).
public func nodeBounds(_ graph: Graph, box: Interval, layers: [LPFixture.Range]) -> [Interval] {
    var known = [Interval?](repeating: nil, count: graph.nodes.count)
    for (w, r) in zip(graph.preActivationNodes, layers) { known[w] = r.interval }
    return IBP.bounds(graph, box: box, known: known)
}

/// Objectives ±e_j on the output: columns 0..<n are +e_j (lower bounds), n..<2n are −e_j.
public func outputObjectives(_ n: Int) -> Matrix {
    var c = Matrix(rows: n, cols: 2 * n)
    for i in 0..<n {
        c[i, i] = 1
        c[i, n + i] = -1
    }
    return c
}
