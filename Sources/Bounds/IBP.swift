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
            terms += t.map.cols
            if case .dense(let w) = t.map {
                dense(w, b, mid: &mid, rad: &rad, mag: &mag)
                continue
            }
            // Structured maps (diagonal, convolution, scaled): |W| once, as a map of the same kind.
            let absW = t.map.magnitude
            t.map.apply(b.center, into: &mid, beta: 1)
            absW.apply(zip(b.lower, b.upper).map { ($1 - $0) / 2 }, into: &rad, beta: 1)
            absW.apply(b.magnitudes, into: &mag, beta: 1)
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

    /// A dense term's W·mid, |W|·radius and |W|·max|bounds| in one pass over W (column-major), with
    /// each input's centre, radius and magnitude formed in place: the same sums as the map's products
    /// in another order, which the margin's γ covers; no temporary arrays (IBP runs per message).
    static func dense(_ w: Matrix, _ b: Interval, mid: inout [Double], rad: inout [Double], mag: inout [Double]) {
        // Internal: shapes come from one affine node of a validated graph.
        precondition(b.count == w.cols && mid.count == w.rows && rad.count == w.rows && mag.count == w.rows)
        let rows = w.rows
        w.data.withUnsafeBufferPointer { wp in
            mid.withUnsafeMutableBufferPointer { mp in
                rad.withUnsafeMutableBufferPointer { rp in
                    mag.withUnsafeMutableBufferPointer { gp in
                        for j in 0..<w.cols {
                            let l = b.lower[j], u = b.upper[j]
                            let c = (l + u) / 2, r = (u - l) / 2, m = max(abs(l), abs(u))
                            let o = j * rows
                            for i in 0..<rows {
                                let x = wp[o + i], ax = abs(x)
                                mp[i] += x * c
                                rp[i] += ax * r
                                gp[i] += ax * m
                            }
                        }
                    }
                }
            }
        }
    }
}
