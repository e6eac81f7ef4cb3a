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
    /// Stop an objective whose certified gap has not shrunk by a tenth over this
    /// many certificate checks (0: never, the default: LP-tight runs can shrink it
    /// slowly for thousands of iterations); its bound stays certified.
    public var stallChecks: Int = 0
    /// Anderson acceleration memory (0: plain ADMM).
    public var andersonMemory: Int = 3
    /// Matrix-free (convolutional) projections: relative residual of the
    /// conjugate-gradient solve, and its iteration cap per ADMM iteration.
    public var projectionTolerance: Double = 1e-7
    public var projectionMaxIterations: Int = 100
    /// Per objective column, the value a caller's decision turns on (a monitor's step is safe when
    /// the bound exceeds it). A column stops once its certified bound exceeds its target (decided)
    /// or a point of the relaxation goes below it (then no bound of this relaxation can exceed it,
    /// and iterating on would only burn the deadline). nil, or a nil entry: iterate to `tolerance`.
    public var targets: [Double?]? = nil
    /// Called at every certificate check with the first open column's progress
    /// (diagnostics); the library itself never prints.
    public var progress: (@Sendable (Progress) -> Void)? = nil

    public init() {}

    /// The state of one certificate check, for `progress`.
    public struct Progress: Sendable {
        public var iteration: Int
        public var column: Int
        public var bound: Double
        public var feasible: Double
        public var primalResidual: Double
        public var dualResidual: Double
        public var rho: Double
    }

    /// Checks every value once, as OSQP's validate_settings does: a solve with
    /// settings that could not converge, or that would trap, is refused.
    public func validate() throws(SplittingError) {
        func require(_ ok: Bool, _ name: String, _ value: Any, _ rule: String) throws(SplittingError) {
            if !ok { throw .invalidSetting(name: name, value: "\(value)", requirement: rule) }
        }
        try require(rho.isFinite && rho > 0, "rho", rho, "finite and > 0")
        try require(alpha > 0 && alpha < 2, "alpha", alpha, "in (0, 2)")
        try require(tolerance.isFinite && tolerance > 0, "tolerance", tolerance, "finite and > 0")
        try require(maxIterations >= 0, "maxIterations", maxIterations, ">= 0")
        if let deadline {
            try require(deadline >= 0 && deadline <= Self.maximumDeadline, "deadline", deadline,
                        "from 0 to \(Self.maximumDeadline) seconds")
        }
        try require(certificatePeriod >= 1, "certificatePeriod", certificatePeriod, ">= 1")
        try require(rhoUpdatePeriod >= 0, "rhoUpdatePeriod", rhoUpdatePeriod, ">= 0")
        try require(stallChecks >= 0, "stallChecks", stallChecks, ">= 0")
        try require(andersonMemory >= 0 && andersonMemory <= Self.maximumAndersonMemory, "andersonMemory",
                    andersonMemory, "from 0 to \(Self.maximumAndersonMemory)")
        try require(projectionTolerance.isFinite && projectionTolerance > 0, "projectionTolerance",
                    projectionTolerance, "finite and > 0")
        try require(projectionMaxIterations >= 1, "projectionMaxIterations", projectionMaxIterations, ">= 1")
        try require(targets?.allSatisfy { !($0?.isNaN ?? false) } ?? true, "targets", "NaN", "not NaN")
    }

    /// A year: longer budgets are surely a unit mistake, and nanoseconds past it overflow nothing.
    public static let maximumDeadline = 365.0 * 24 * 3600
    /// Anderson solves a memory × memory system per step; beyond this it only costs.
    public static let maximumAndersonMemory = 64
}

/// Why the splitting solver refused to run.
public enum SplittingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A `Settings` value out of its range.
    case invalidSetting(name: String, value: String, requirement: String)
    /// The graph's output is not an affine node (normalize the graph first).
    case nonAffineOutput(node: String)
    /// An affine node's projection could not be factored.
    case factorization(node: String, reason: String)

    public var description: String {
        switch self {
        case .invalidSetting(let name, let value, let requirement):
            return "solver setting \(name) = \(value) is invalid: it must be \(requirement)"
        case .nonAffineOutput(let node):
            return "output node '\(node)' is not affine; normalize the graph first"
        case .factorization(let node, let reason):
            return "affine node '\(node)': cannot factor I + WᵀW (\(reason))"
        }
    }
}

public enum StopReason: String, Sendable {
    case converged
    case iterationLimit = "iteration-limit"
    case deadline
    /// Some objectives stopped because their certified gap no longer shrank.
    case stalled
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
    /// Objectives stopped by the stall rule (their bound certified, the gap above tolerance).
    public var stalledColumns: Int = 0
    /// Objectives stopped at their `Settings.targets` value (proven above it, or shown unable to be).
    public var decidedColumns: Int = 0
    public var seconds: Double
    public var stop: StopReason
    public var warm: Bool
}
