import Bounds
import Foundation
import LinearAlgebra
import Network
import Splitting
import Verification

/// Every bound method on a small random graph and box: IBP, CROWN, ADMM with
/// CROWN and with LP intermediates, a warm-started input split and the
/// verifier. It traps on a bound that misses a forward pass at a probe point
/// or has lower > upper; a trap of the methods themselves is a finding too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSolver(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    let problem = ProblemDecoder.decode(data)
    let graph = problem.graph
    let probes = Probes(graph: graph, box: problem.box, seed: problem.seed)
    let crown = SolverStages.boundWithoutSolver(graph, box: problem.box, probes: probes)
    // normalized() reads a ReLU output through an identity node: the solver takes every decoded graph.
    let solver: SplittingSolver
    do { solver = try SplittingSolver(graph: graph, scaling: crown) } catch SplittingError.factorization {
        // Weights near 1e4 can make I + WᵀW numerically indefinite: a clean refusal
        // (one error line in the CLI), not a finding. IBP and CROWN above still ran.
        return 0
    } catch {
        fatalError("a normalized graph was refused: \(error)")
    }
    SolverStages(solver: solver, box: problem.box, probes: probes).run(problem, crown: crown)
    return 0
}
