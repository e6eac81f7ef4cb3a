import Bounds
import Dispatch
import LinearAlgebra
import Network

/// The wall clock of one solve: its start and, when a deadline is set, its end.
struct SolveClock {
    let start = DispatchTime.now().uptimeNanoseconds
    let end: UInt64?

    /// `deadline` is validated (0 to a year), so the nanoseconds cannot overflow.
    init(deadline: Double?) {
        end = deadline.map { [start] in start + UInt64(max(0, $0) * 1e9) }
    }

    var timeUp: Bool { end.map { DispatchTime.now().uptimeNanoseconds >= $0 } ?? false }
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}

/// One solve's data in the solver's scaled variables (ỹ_v = y_v / d_v, on
/// which ADMM runs), beside the caller's originals (on which the certificate
/// is evaluated, so that its rounding margin is in the caller's units).
struct ScaledProblem {
    let target: Int
    let original: (objectives: Matrix, box: Interval, bounds: [Interval])
    let objectives: Matrix
    let box: Interval
    /// The activations' relaxed sets for the caller's bounds (for the
    /// certificate) and in the solver's variables (for the projections).
    let sets: Relaxations
    let scaledSets: [Int: [RelaxedSet]]
    let scaledProducts: [Int: [ProductSet]]

    init(_ solver: SplittingSolver, objectives: Matrix, box: Interval, bounds: [Interval], target: Int) {
        self.target = target
        original = (objectives, box, bounds)
        self.box = solver.scaledInterval(box, node: 0)
        let graph = solver.graph
        sets = Relaxations(graph: graph, bounds: bounds, live: graph.ancestorMask(of: target))
        var scaledSets: [Int: [RelaxedSet]] = [:]
        let activationOf = graph.activationOf
        for (w, list) in sets.sets {
            guard let r = activationOf[w] else { continue }
            let dz = solver.scale[w], dy = solver.scale[r]
            scaledSets[w] = list.indices.map { list[$0].scaled(z: dz[$0], y: dy[$0]) }
        }
        self.scaledSets = scaledSets
        var scaledProducts: [Int: [ProductSet]] = [:]
        for (w, list) in sets.products {
            guard let r = activationOf[w] else { continue }
            let d = solver.scale[w], dp = solver.scale[r], n = list.count
            scaledProducts[w] = list.indices.map { list[$0].scaled(x: d[$0], y: d[n + $0], p: dp[$0]) }
        }
        self.scaledProducts = scaledProducts
        var c = objectives
        for j in 0..<c.cols { for i in 0..<c.rows { c[i, j] *= solver.scale[target][i] } }
        self.objectives = c
    }
}

/// The columns still iterating: their objectives (scaled and original), the
/// best certified bound and the best relaxation-point value of each.
struct OpenColumns {
    var objectives: Matrix
    var original: Matrix
    var best: [Double]
    var upper: [Double]
    var stall: StallWatch

    /// Whether every column's certified gap is already within tolerance.
    func allWithin(_ tolerance: Double) -> Bool {
        best.indices.allSatisfy { upper[$0] - best[$0] <= tolerance * max(1, abs(best[$0])) }
    }

    mutating func keep(_ js: [Int]) {
        objectives = SplittingSolver.columns(of: objectives, js)
        original = SplittingSolver.columns(of: original, js)
        best = js.map { best[$0] }
        upper = js.map { upper[$0] }
        stall.keep(js)
    }
}

extension Solution {
    /// Nothing solved yet: every bound −∞, no estimate.
    init(columns k: Int, warm: Bool) {
        self.init(lower: [Double](repeating: -.infinity, count: k),
                  crownLower: [Double](repeating: -.infinity, count: k),
                  primalEstimate: [Double](repeating: .nan, count: k),
                  primalResidual: [Double](repeating: 0, count: k),
                  dualResidual: [Double](repeating: 0, count: k),
                  iterations: 0, columnIterations: 0, seconds: 0, stop: .nothingToSolve, warm: warm)
    }
}
