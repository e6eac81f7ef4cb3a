import Splitting

/// Why `Verifier.verify` could not start or finish (an undecided property is an answer, not an error).
public enum VerificationError: Error, CustomStringConvertible, Sendable {
    /// A solver setting out of range, or a solver that could not be set up.
    case solver(SplittingError)
    /// The property's declared inputs and outputs are not the graph's.
    case shape(property: (inputs: Int, outputs: Int), graph: (inputs: Int, outputs: Int))
    /// A case whose box or output rows have the wrong sizes, an unordered or infinite box, or an
    /// infinite bound.
    case malformedCase(index: Int)

    public var description: String {
        switch self {
        case .solver(let e): return e.description
        case .shape(let p, let g):
            return "the property declares \(p.inputs) inputs and \(p.outputs) outputs; "
                + "the network has \(g.inputs) and \(g.outputs)"
        case .malformedCase(let k):
            return "property case \(k): its box or output rows do not match the network, or its box is "
                + "unordered or infinite"
        }
    }
}
