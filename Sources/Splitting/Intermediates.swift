import Bounds
import Dispatch
import LinearAlgebra
import Network

/// How the pre-activation bounds that shape the relaxation are computed.
public enum IntermediateMethod: String, Sendable, CaseIterable {
    case ibp
    case crown
    /// LP-tight: each layer's bounds by the splitting solver over the
    /// relaxation of the layers below (the tightest triangle relaxation).
    case lp
}

public struct IntermediateStatistics: Sendable {
    public var iterations = 0
    public var columnIterations = 0
    public var solves = 0
    public var seconds = 0.0
    /// Unstable activations (relaxed set not a segment) after CROWN (each layer given the LP-tight layers below it), and after the LP.
    public var unstableBefore = 0
    public var unstableAfter = 0

    public init() {}
}

extension SplittingSolver {
    /// Layers up to this width keep one warm workspace for LP-tight bounds; wider
    /// ones are solved in chunks of this many neurons.
    public static let warmLayerWidth = 128
    /// LP-tight intermediates stop at this relative gap at most (half the final
    /// default): their looseness compounds through the layers above.
    public static let intermediateTolerance = 2.5e-4

    /// Per-node bounds for inputs in `box`. For `.lp`, `workspaces` keeps one
    /// warm state per pre-activation node across calls (the caller owns it).
    public func intermediateBounds(box: Interval, method: IntermediateMethod,
                                   workspaces: inout [Int: Workspace],
                                   settings: Settings = Settings(),
                                   statistics: inout IntermediateStatistics,
                                   chunk: Int = SplittingSolver.warmLayerWidth) throws(SplittingError) -> [Interval] {
        switch method {
        case .ibp:
            return IBP.bounds(graph, box: box)
        case .crown:
            return IntermediateBounds.crown(graph, box: box, dual: dual)
        case .lp:
            break
        }
        let start = DispatchTime.now().uptimeNanoseconds
        // Layer by layer: IBP and CROWN from the bounds below (already LP-tight), then the LP.
        var bounds = IBP.bounds(graph, box: box)
        statistics.unstableBefore = 0
        let pre = Set(graph.preActivationNodes)
        for (w, node) in graph.nodes.enumerated() {
            switch node.operation {
            case .input:
                continue
            case .elementwise(let op, let u):
                bounds[w] = bounds[u].applying(op)
            case .product(let u):
                bounds[w] = bounds[u].products
            case .affine(let a):
                bounds[w] = bounds[w].intersected(with: IBP.affineBounds(a, bounds))
                guard pre.contains(w) else { continue }
                bounds[w] = bounds[w].intersected(with:
                    IntermediateBounds.crownBounds(of: w, box: box, bounds: bounds, evaluator: dual))
                let n = node.size
                let unstable = unstableNeurons(of: w, bounds[w])
                statistics.unstableBefore += unstable.count
                guard !unstable.isEmpty else { continue }
                // Looseness here compounds through the layers above: solve these a little tighter.
                var layerSettings = settings
                layerSettings.tolerance = min(settings.tolerance, Self.intermediateTolerance)
                var lower = bounds[w].lower, upper = bounds[w].upper
                // Small layers (controllers) keep one warm workspace over all ±e_i; wide
                // ones (convolutions) solve their unstable neurons in cold chunks, so
                // memory is the chunk times the activations, never n times them.
                let width = max(1, chunk)
                let warm = n <= width
                let openNeurons = unstable.sorted()
                let chunks: [[Int]] = warm
                    ? [Array(0..<n)]
                    : stride(from: 0, to: openNeurons.count, by: width).map {
                        Array(openNeurons[$0..<min(openNeurons.count, $0 + width)])
                    }
                for neurons in chunks {
                    if let d = settings.deadline {
                        layerSettings.deadline = max(0, d - Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                    let m = neurons.count
                    var c = Matrix(rows: n, cols: 2 * m)
                    var active = [Bool](repeating: false, count: 2 * m)
                    for (j, i) in neurons.enumerated() {
                        c[i, j] = 1
                        c[i, m + j] = -1
                        let open = unstable.contains(i)
                        active[j] = open
                        active[m + j] = open
                    }
                    var ws = (warm ? workspaces[w] : nil) ?? makeWorkspace(target: w, columns: 2 * m)
                    let sol = try solve(objectives: c, box: box, bounds: bounds, workspace: &ws, active: active, settings: layerSettings)
                    if warm { workspaces[w] = ws }
                    statistics.iterations += sol.iterations
                    statistics.columnIterations += sol.columnIterations
                    statistics.solves += 1
                    statistics.seconds += sol.seconds
                    for (j, i) in neurons.enumerated() where active[j] {
                        let lo = max(lower[i], sol.lower[j])
                        let hi = min(upper[i], -sol.lower[m + j])
                        // Certified bounds cannot cross; if rounding ever made them, keep the old ones.
                        if lo <= hi {
                            lower[i] = lo
                            upper[i] = hi
                        }
                    }
                }
                bounds[w] = Interval(lower: lower, upper: upper)
            }
        }
        statistics.unstableAfter = IntermediateBounds.unstableCount(graph, bounds)
        return bounds
    }

    /// The neurons of pre-activation node w whose relaxed set is not a segment:
    /// only their bounds change the relaxation above.
    func unstableNeurons(of w: Int, _ b: Interval) -> Set<Int> {
        guard let r = graph.activationOf[w] else { return [] }
        // A product's input: every value of x and y whose box is not a point shapes a tetrahedron.
        guard let e = graph.nodes[r].operation.elementwise else {
            return Set((0..<b.count).filter { b.lower[$0] < b.upper[$0] })
        }
        return Set((0..<b.count).filter { !e.op.relaxation(lower: b.lower[$0], upper: b.upper[$0]).isLinear })
    }
}
