import Foundation
import Network

/// Networks with tanh, sigmoid, LeakyReLU, Clip and Softplus activations and
/// their oracles (sampling, a gradient attack, an independent CROWN and HiGHS
/// over the polygon relaxation), from Scripts/make_activation_fixtures.py.
public struct ActivationFixture: Decodable {
    public struct Case: Decodable {
        public let box: LPFixture.Range
        public let sampled: LPFixture.Range
        public let attacked: LPFixture.Range
        public let crown: LPFixture.Range
        public let lp: LPFixture.Range
        public let lp_layers: [LPFixture.Range]
    }
    public let name: String
    public let opset: Int
    public let cases: [Case]

    public static let folder = lpFixtures.deletingLastPathComponent().appendingPathComponent("activations")

    public static func names() throws -> [String] {
        let data = try Data(contentsOf: folder.appendingPathComponent("index.json"))
        struct Index: Decodable { let networks: [String] }
        return try JSONDecoder().decode(Index.self, from: data).networks
    }

    public static func load(_ name: String) throws -> ActivationFixture {
        let data = try Data(contentsOf: folder.appendingPathComponent(name + ".json"))
        return try JSONDecoder().decode(ActivationFixture.self, from: data)
    }

    public var modelPath: String { Self.folder.appendingPathComponent(name + ".onnx").path }

    public func graph() throws -> Graph { try ONNXImporter.load(path: modelPath).graph }
}
