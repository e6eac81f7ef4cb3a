/// Solver settings, in the spirit of OSQP's: plain values the caller owns.
public struct Settings: Sendable {
    /// Initial penalty ρ, scaled per objective by the objective's norm.
    public var rho: Double = 0.03
    /// Over-relaxation α in (0, 2); 1 (none) works best with Anderson acceleration.
    public var alpha: Double = 1.0
    /// Stop an objective when its certified bound and the objective at a point of
    /// the relaxation agree to tolerance·max(1, |bound|): a certified gap.
    public var tolerance: Double = 5e-4
    public var maxIterations: Int = 20_000
    /// Wall-clock budget for one solve, in seconds (nil: none).
    public var deadline: Double? = nil
    /// Evaluate the certificate every this many iterations.
    public var certificatePeriod: Int = 10
    /// Residual balancing of ρ, every this many iterations (0: off).
    public var rhoUpdatePeriod: Int = 25
    /// Anderson acceleration memory (0: plain ADMM).
    public var andersonMemory: Int = 3
    /// Matrix-free (convolutional) projections: relative residual of the
    /// conjugate-gradient solve, and its iteration cap per ADMM iteration.
    public var projectionTolerance: Double = 1e-7
    public var projectionMaxIterations: Int = 100
    /// Print per-certificate progress of the first column (diagnostics).
    public var trace = false

    public init() {}
}

public enum StopReason: String, Sendable {
    case converged
    case iterationLimit = "iteration-limit"
    case deadline
    case nothingToSolve = "nothing-to-solve"
}

/// The answer of one solve. `lower` is the certified bound; `primalEstimate`
/// is the objective at the last iterate, which is not a bound.
public struct Solution: Sendable {
    /// Certified lower bound of cₖᵀ y per objective column (the best seen,
    /// never looser than CROWN's). Inactive columns hold -∞.
    public var lower: [Double]
    /// CROWN's bound for the same objectives, for comparison.
    public var crownLower: [Double]
    /// cₖᵀ y at the last iterate: an estimate, NOT a bound.
    public var primalEstimate: [Double]
    public var primalResidual: [Double]
    public var dualResidual: [Double]
    public var iterations: Int
    /// Iterations summed over objectives (work done, with dropped columns).
    public var columnIterations: Int
    /// Conjugate-gradient iterations spent in matrix-free projections (0 when all are factored).
    public var projectionIterations: Int = 0
    public var seconds: Double
    public var stop: StopReason
    public var warm: Bool
}
