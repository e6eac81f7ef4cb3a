import LinearAlgebra

extension Graph {
    /// The output at x and the gradient of s·output with respect to x (a backward pass: a
    /// vector-Jacobian product), s = seed(output), chosen from the output of the same forward pass.
    /// At a kink each operator's one-sided slope is used: the attacks that read it need a direction,
    /// not a certificate.
    public func gradient(at x: [Double], seed: ([Double]) -> [Double]) -> (output: [Double], gradient: [Double]) {
        let values = evaluateAll(x)
        let s = seed(values[output])
        precondition(s.count == nodes[output].size, "the seed has one value per output")
        var adjoint = nodes.map { [Double](repeating: 0, count: $0.size) }
        adjoint[output] = s
        for v in stride(from: output, to: 0, by: -1) {
            let g = adjoint[v]
            switch nodes[v].operation {
            case .input:
                continue
            case .affine(let a):
                for term in a.terms { term.map.applyTranspose(g, into: &adjoint[term.input], beta: 1) }
            case .elementwise(let op, let u):
                for i in 0..<g.count where g[i] != 0 { adjoint[u][i] += g[i] * op.derivative(values[u][i]) }
            case .product(let u):
                let n = g.count
                for i in 0..<n where g[i] != 0 {
                    adjoint[u][i] += g[i] * values[u][n + i]
                    adjoint[u][n + i] += g[i] * values[u][i]
                }
            }
        }
        return (values[output], adjoint[0])
    }
}
