import LinearAlgebra
import Network

/// Interval bound propagation: z = W·mid + b ± |W|·radius, widened by a
/// rounding margin so that floating point never makes the interval too narrow.
public enum IBP {
    /// Bounds of every node for inputs in `box`. Where `known` holds bounds
    /// already (tighter, sound), they are intersected in.
    public static func bounds(_ graph: Graph, box: Interval, known: [Interval?] = []) -> [Interval] {
        var result: [Interval] = []
        var buffers = IBPBuffers()
        bounds(graph, box: box, known: known, into: &result, buffers: &buffers)
        return result
    }

    /// The same into `result` (one interval per node), every node's bounds overwritten in place: a
    /// caller that bounds one graph per message keeps `result` and `buffers` and allocates nothing.
    public static func bounds(_ graph: Graph, box: Interval, known: [Interval?] = [], into result: inout [Interval],
                              buffers: inout IBPBuffers) {
        if result.count != graph.nodes.count {
            result = [Interval](repeating: .empty, count: graph.nodes.count)
        }
        for (v, node) in graph.nodes.enumerated() {
            result.update(v) { iv, all in
                switch node.operation {
                // Copied, not shared: a caller refilling its box's storage in place (a monitor's
                // tube) would otherwise find it shared by these kept bounds and reallocate it.
                case .input: iv.assign(box)
                case .affine(let a): affine(a, all, into: &iv, buffers: &buffers)
                case .elementwise(let op, let u): all[u].applying(op, into: &iv)
                case .product(let u): iv = all[u].products
                }
            }
            if v < known.count, let k = known[v] { result[v].intersect(with: k) }
        }
    }

    /// Bounds of one affine node from its inputs' bounds.
    public static func affineBounds(_ a: Affine, _ bounds: [Interval]) -> Interval {
        affine(a, bounds)
    }

    static func affine(_ a: Affine, _ bounds: [Interval]) -> Interval {
        var result = Interval.empty
        var buffers = IBPBuffers()
        affine(a, bounds, into: &result, buffers: &buffers)
        return result
    }

    /// The same into `result`, the sums formed in `buffers` (both reused by a caller that keeps them).
    static func affine(_ a: Affine, _ bounds: [Interval], into result: inout Interval, buffers: inout IBPBuffers) {
        let n = a.bias.count
        buffers.start(bias: a.bias)
        var terms = 0
        for t in a.terms {
            let b = bounds[t.input]
            terms += t.map.cols
            if case .dense(let w) = t.map {
                dense(w, b, mid: &buffers.mid, rad: &buffers.rad, mag: &buffers.mag)
                continue
            }
            // Structured maps (diagonal, convolution, scaled): |W| once, as a map of the same kind.
            let absW = t.map.magnitude
            t.map.apply(b.center, into: &buffers.mid, beta: 1)
            absW.apply(zip(b.lower, b.upper).map { ($1 - $0) / 2 }, into: &buffers.rad, beta: 1)
            absW.apply(b.magnitudes, into: &buffers.mag, beta: 1)
        }
        // Rounding: mid, rad and the centre/radius split are each within γ·mag.
        let g = Rounding.gamma(terms + 2) * 4
        result.resize(to: n)
        for i in 0..<n {
            let margin = g * buffers.mag[i] + Double.leastNonzeroMagnitude
            result.lower[i] = buffers.mid[i] - buffers.rad[i] - margin
            result.upper[i] = buffers.mid[i] + buffers.rad[i] + margin
        }
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

/// IBP's per-node sums W·mid + b, |W|·radius and |W|·max|bounds| + |b|, kept by a caller that bounds many
/// nodes (a monitor: every message), so that an affine node's bounds allocate nothing.
public struct IBPBuffers: Sendable {
    var mid: [Double] = []
    var rad: [Double] = []
    var mag: [Double] = []

    public init() {}

    /// A node's sums before its terms: b, 0 and |b|.
    mutating func start(bias: [Double]) {
        mid.removeAll(keepingCapacity: true)
        mid.append(contentsOf: bias)
        rad.removeAll(keepingCapacity: true)
        rad.append(contentsOf: repeatElement(0, count: bias.count))
        mag.removeAll(keepingCapacity: true)
        for b in bias { mag.append(abs(b)) }
    }
}

extension [Interval] {
    /// Node v's bounds written by `body` (given every node's bounds to read), moved out of the array
    /// meanwhile so that their storage stays uniquely referenced and is overwritten in place.
    mutating func update(_ v: Int, _ body: (inout Interval, [Interval]) -> Void) {
        var iv = Interval.empty
        swap(&iv, &self[v])
        body(&iv, self)
        swap(&iv, &self[v])
    }
}
