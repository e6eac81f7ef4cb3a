import Foundation
import Bounds
import LinearAlgebra
import Network

/// Reference optima from Scripts/make_dag_fixtures.py (HiGHS LP on DAG-shaped
/// networks: skip connections, residual Adds, 1-wide layers, ReLU outputs).
public let dagFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/dag")

public struct DAGFixture: Decodable {
    public struct Case: Decodable {
        public let label: String
        public let box: LPFixture.Range
        /// ONNX names of the Relu nodes; lp_layers[k] bounds the input of relus[k].
        public let relus: [String]
        public let lp_layers: [LPFixture.Range]
        public let lp: LPFixture.Range
        public let sampled: LPFixture.Range
    }
    public let name: String
    public let model: String
    public let shape: String
    public let relu_output: Bool
    public let cases: [Case]

    public static func load(_ name: String) throws -> DAGFixture {
        let data = try Data(contentsOf: dagFixtures.appendingPathComponent(name + ".json"))
        return try JSONDecoder().decode(DAGFixture.self, from: data)
    }

    public static func names() throws -> [String] {
        struct Index: Decodable { let networks: [String] }
        let data = try Data(contentsOf: dagFixtures.appendingPathComponent("index.json"))
        return try JSONDecoder().decode(Index.self, from: data).networks
    }

    public func graph() throws -> Graph {
        try ONNXImporter.load(path: dagFixtures.appendingPathComponent(model).path).graph
    }
}

public struct FixtureMismatch: Error, CustomStringConvertible {
    public let description: String
}

/// Per-node bounds with the input of each named ReLU bounded by its range (by
/// name, so identity nodes the importer inserts do not shift the mapping).
/// Every ReLU of the graph must be named, so that no node keeps looser IBP bounds.
public func nodeBounds(_ graph: Graph, box: Interval, relus: [String],
                       layers: [LPFixture.Range]) throws -> [Interval] {
    var known = [Interval?](repeating: nil, count: graph.nodes.count)
    var named = 0
    for node in graph.nodes {
        guard case .elementwise(_, let u) = node.operation else { continue }
        guard let k = relus.firstIndex(of: node.name) else {
            throw FixtureMismatch(description: "ReLU '\(node.name)' has no bounds in the fixture")
        }
        known[u] = layers[k].interval
        named += 1
    }
    guard named == relus.count else {
        throw FixtureMismatch(description: "the graph has \(named) ReLUs, the fixture \(relus.count)")
    }
    return IBP.bounds(graph, box: box, known: known)
}
