import Foundation

/// Dormand–Prince 5(4), the adaptive Runge–Kutta pair of ode45: the simulator's
/// integrator for ODE plants (the true flow, within a tight tolerance). Not a
/// bound: the analysis never uses it, only witnesses and pictures do.
enum DormandPrince {
    /// Per-component tolerance |e| ≤ atol + rtol·|x|: tight enough that a witness
    /// of `unsafe` only needs to clear the unsafe set's face by a micrometre.
    static let relativeTolerance = 1e-10, absoluteTolerance = 1e-12
    static let maximumSteps = 100_000
    /// Steps shorter than this fraction of the period end the run (as unresolved).
    static let smallestStep = 1e-9

    static let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1]
    static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ]
    /// Fifth-order weights (the last row of a) minus the embedded fourth-order ones.
    static let errorWeights: [Double] = [71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525,
                                         -1.0 / 40]

    /// x(T) from x(0) = x; `error` sums the local error estimates (a global
    /// error estimate); `observe` sees every accepted point.
    static func integrate(_ f: ([Double]) -> [Double], from x0: [Double], over total: Double,
                          observe: (([Double]) -> Void)? = nil) -> (state: [Double], error: Double) {
        var x = x0, t = 0.0, h = total / 100, error = 0.0
        var steps = 0
        while t < total && steps < maximumSteps {
            steps += 1
            // A blow-up (or a stiff stretch) shrinks h without end: no witness from this run.
            guard h > total * smallestStep else { return (x, .infinity) }
            let last = h >= total - t
            if last { h = total - t }
            var k: [[Double]] = [f(x)]
            for s in 1..<7 {
                let xs = x.indices.map { i in x[i] + h * zip(a[s], k).reduce(0) { $0 + $1.0 * $1.1[i] } }
                k.append(f(xs))
            }
            let next = x.indices.map { i in x[i] + h * zip(a[6], k).reduce(0) { $0 + $1.0 * $1.1[i] } }
            var ratio = 0.0, local = 0.0
            for i in x.indices {
                let e = h * zip(errorWeights, k).reduce(0) { $0 + $1.0 * $1.1[i] }
                ratio = max(ratio, abs(e) / (absoluteTolerance + relativeTolerance * max(abs(x[i]), abs(next[i]))))
                local = max(local, abs(e))
            }
            guard ratio.isFinite, next.allSatisfy(\.isFinite) else { return (next, .infinity) }
            if ratio <= 1 {
                t = last ? total : t + h
                x = next
                error += local
                observe?(x)
            }
            h *= min(5, max(0.2, 0.9 * pow(max(ratio, 1e-10), -0.2)))
        }
        return (x, t < total ? .infinity : error)
    }
}
