import LinearAlgebra

/// The active columns of a workspace, compacted so the iteration works on
/// contiguous matrices; columns that converge are written back and dropped.
struct WorkingState {
    var columns: [Int]
    var y: [Matrix]
    var x: [Matrix]
    var u: [Matrix]
    var rho: [Double]
    var stack: [Double] = []
    var work: [Double] = []
    var guess: [Double] = []
    /// Conjugate-gradient iterations of the matrix-free projections, summed.
    var projectionIterations = 0
    var scalePrimal: [Double]
    var scaleDual: [Double]

    init(workspace: Workspace, columns: [Int]) {
        self.columns = columns
        y = workspace.y.map { $0.rows == 0 ? $0 : SplittingSolver.columns(of: $0, columns) }
        x = workspace.x.map { SplittingSolver.columns(of: $0, columns) }
        u = workspace.u.map { SplittingSolver.columns(of: $0, columns) }
        rho = columns.map { workspace.rho[$0] }
        scalePrimal = [Double](repeating: 1, count: columns.count)
        scaleDual = scalePrimal
    }

    /// x[slot] = Y[node] − U[slot], the point the block projects.
    mutating func prepare(slot: Int, node: Int) {
        let yv = y[node]
        let uv = u[slot]
        x[slot].data.withUnsafeMutableBufferPointer { xp in
            for i in 0..<xp.count { xp[i] = yv.data[i] - uv.data[i] }
        }
    }

    mutating func ensureBuffers(nIn: Int, m: Int) {
        let k = columns.count
        if stack.count < nIn * k { stack = [Double](repeating: 0, count: nIn * k) }
        if work.count < m * k { work = [Double](repeating: 0, count: m * k) }
    }

    /// ρ is rebalanced only when the scaled residuals differ by more than this
    /// ratio (OSQP's adaptive-ρ rule uses 5): smaller changes cost a restart of
    /// the acceleration for little gain.
    static let rhoBalanceRatio = 5.0
    /// ρ stays within these, so that neither block's step degenerates.
    static let rhoRange = 1e-8...1e8
    /// Residual scales below this are treated as this (a zero scale at a cold start).
    static let smallestResidualScale = 1e-12

    /// Residual balancing: ρ grows when the primal residual dominates, shrinks
    /// when the dual one does; the scaled duals are rescaled to match.
    @discardableResult
    mutating func balanceRho(_ r: SplittingSolver.Residuals) -> Bool {
        var changed = false
        for c in 0..<columns.count {
            let p = r.primal[c] / max(scalePrimal[c], Self.smallestResidualScale)
            let d = r.dual[c] / max(scaleDual[c], Self.smallestResidualScale)
            guard p > 0, d > 0 else { continue }
            let ratio = (p / d).squareRoot()
            guard ratio > Self.rhoBalanceRatio || ratio < 1 / Self.rhoBalanceRatio else { continue }
            let newRho = min(max(rho[c] * ratio, Self.rhoRange.lowerBound), Self.rhoRange.upperBound)
            let scale = rho[c] / newRho
            for s in u.indices {
                let n = u[s].rows
                for i in 0..<n { u[s].data[i + c * n] *= scale }
            }
            rho[c] = newRho
            changed = true
        }
        return changed
    }

    mutating func store(into w: inout Workspace, only subset: [Int]? = nil) {
        let js = subset ?? Array(columns.indices)
        for j in js {
            let c = columns[j]
            for v in y.indices where y[v].rows > 0 {
                let n = y[v].rows
                for i in 0..<n { w.y[v].data[i + c * n] = y[v].data[i + j * n] }
            }
            for s in x.indices {
                let n = x[s].rows
                for i in 0..<n {
                    w.x[s].data[i + c * n] = x[s].data[i + j * n]
                    w.u[s].data[i + c * n] = u[s].data[i + j * n]
                }
            }
            w.rho[c] = rho[j]
        }
    }

    /// (Y of the live nodes, U of every slot) per column, for acceleration.
    func packed(live: [Int]) -> [Double] {
        let k = columns.count
        let dim = live.reduce(0) { $0 + y[$1].rows } + u.reduce(0) { $0 + $1.rows }
        var out = [Double](repeating: 0, count: dim * k)
        for c in 0..<k {
            var o = c * dim
            for v in live {
                let n = y[v].rows
                for i in 0..<n { out[o + i] = y[v].data[i + c * n] }
                o += n
            }
            for m in u {
                let n = m.rows
                for i in 0..<n { out[o + i] = m.data[i + c * n] }
                o += n
            }
        }
        return out
    }

    mutating func unpack(_ values: [Double], live: [Int]) {
        let k = columns.count
        let dim = values.count / max(1, k)
        for c in 0..<k {
            var o = c * dim
            for v in live {
                let n = y[v].rows
                for i in 0..<n { y[v].data[i + c * n] = values[o + i] }
                o += n
            }
            for si in u.indices {
                let n = u[si].rows
                for i in 0..<n { u[si].data[i + c * n] = values[o + i] }
                o += n
            }
        }
    }

    mutating func keep(_ js: [Int]) {
        columns = js.map { columns[$0] }
        y = y.map { $0.rows == 0 ? $0 : SplittingSolver.columns(of: $0, js) }
        x = x.map { SplittingSolver.columns(of: $0, js) }
        u = u.map { SplittingSolver.columns(of: $0, js) }
        rho = js.map { rho[$0] }
        scalePrimal = js.map { scalePrimal[$0] }
        scaleDual = js.map { scaleDual[$0] }
    }
}

