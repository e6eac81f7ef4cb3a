import LinearAlgebra
import Network

/// Interval bound propagation: z = W·mid + b ± |W|·radius, widened by a
/// rounding margin so that floating point never makes the interval too narrow.
public enum IBP {
    /// Bounds of every node for inputs in `box`. Where `known` holds bounds
    /// already (tighter, sound), they are intersected in.
    public static func bounds(_ graph: Graph, box: Interval, known: [Interval?] = []) -> [Interval] {
        var result: [Interval] = []
        result.reserveCapacity(graph.nodes.count)
        for (v, node) in graph.nodes.enumerated() {
            var iv: Interval
            switch node.operation {
            case .input:
                iv = box
            case .affine(let a):
                iv = affine(a, result)
            case .elementwise(let op, let u):
                iv = result[u].applying(op)
            case .product(let u):
                iv = result[u].products
            }
            if v < known.count, let k = known[v] { iv = iv.intersected(with: k) }
            result.append(iv)
        }
        return result
    }

    /// Bounds of one affine node from its inputs' bounds.
    public static func affineBounds(_ a: Affine, _ bounds: [Interval]) -> Interval {
        affine(a, bounds)
    }

    static func affine(_ a: Affine, _ bounds: [Interval]) -> Interval {
        let n = a.bias.count
        var mid = a.bias
        var rad = [Double](repeating: 0, count: n)
        var mag = a.bias.map { abs($0) }
        var terms = 0
        for t in a.terms {
            let b = bounds[t.input]
            let c = b.center
            let r = zip(b.lower, b.upper).map { ($1 - $0) / 2 }
            t.map.apply(c, into: &mid, beta: 1)
            t.map.applyMagnitude(r, into: &rad)
            t.map.applyMagnitude(b.magnitudes, into: &mag)
            terms += t.map.cols
        }
        // Rounding: mid, rad and the centre/radius split are each within γ·mag.
        let g = Rounding.gamma(terms + 2) * 4
        var lower = [Double](repeating: 0, count: n)
        var upper = lower
        for i in 0..<n {
            let margin = g * mag[i] + Double.leastNonzeroMagnitude
            lower[i] = mid[i] - rad[i] - margin
            upper[i] = mid[i] + rad[i] + margin
        }
        return Interval(lower: lower, upper: upper)
    }
}
