import ArgumentParser
import Dispatch
import LinearAlgebra

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Time the small-matrix loops against OpenBLAS's dgemm: the crossover (figures, not a test).",
        discussion: """
        For square layers of n = 2 … 512 and k objective columns, times C = Wᵀ·H (the dual's
        backward pass) and C = W·X (the forward pass) with SmallKernels.gemm and with OpenBLAS,
        and prints nanoseconds per product and the faster one. BLAS.gemm uses the loops up to
        m·n·k = SmallKernels.maximumWork.

        Example:
          reachguard bench-kernels --columns 1,8,32
        """)

    @Option(help: "Comma-separated column counts k.") var columns: String = "1,4,16,64"

    func validate() throws { _ = try columnCounts() }

    /// --columns as counts from 1 to 4096 (a usage error otherwise).
    func columnCounts() throws -> [Int] {
        let ks = try OptionCheck.indices(columns, "--columns", limit: 4097)
        for k in ks { try OptionCheck.count(k, "--columns", in: 1...4096) }
        return ks
    }

    func run() throws {
        try Output.run {
            let ks = try columnCounts()
            Output.line("    n     k    m·n·k | Wᵀ·H loops ns | Wᵀ·H BLAS ns | W·X loops ns | W·X BLAS ns | faster")
            for n in [2, 4, 8, 16, 32, 64, 128, 256, 512] {
                for k in ks { Output.line(Self.row(n: n, k: k)) }
            }
            Output.line("BLAS.gemm uses the loops up to m·n·k = \(SmallKernels.maximumWork)")
        }
    }

    static func row(n: Int, k: Int) -> String {
        var rng = SplitMix64(seed: 7)
        let w = (0..<(n * n)).map { _ in rng.unit() - 0.5 }
        let x = (0..<(n * k)).map { _ in rng.unit() - 0.5 }
        var out = [Double](repeating: 0, count: n * k)
        let times = [(true, true), (true, false), (false, true), (false, false)].map { transposed, loops in
            time(n: n, k: k) {
                w.withUnsafeBufferPointer { wp in
                    x.withUnsafeBufferPointer { xp in
                        out.withUnsafeMutableBufferPointer { op in
                            product(n: n, k: k, wp, xp, op, transposed: transposed, loops: loops)
                        }
                    }
                }
            }
        }
        let verdict = (times[0] < times[1] ? "loops" : "BLAS") + " / " + (times[2] < times[3] ? "loops" : "BLAS")
        return String(format: "%5d %5d %8d | %13.0f | %12.0f | %12.0f | %11.0f | %@",
                      n, k, n * n * k, times[0], times[1], times[2], times[3], verdict)
    }

    static func product(n: Int, k: Int, _ w: UnsafeBufferPointer<Double>, _ x: UnsafeBufferPointer<Double>,
                        _ out: UnsafeMutableBufferPointer<Double>, transposed: Bool, loops: Bool) {
        guard let a = w.baseAddress, let b = x.baseAddress, let c = out.baseAddress else { return }
        if loops {
            SmallKernels.gemm(m: n, n: k, k: n, alpha: 1, a: a, lda: n, transposeA: transposed,
                              b: b, ldb: n, transposeB: false, beta: 0, c: c, ldc: n)
        } else {
            BLAS.openBLASGemm(m: n, n: k, k: n, alpha: 1, a: a, lda: n, transposeA: transposed,
                              b: b, ldb: n, transposeB: false, beta: 0, c: c, ldc: n)
        }
    }

    /// Nanoseconds per call: the best of five batches, each long enough to time (about 2 ms).
    static func time(n: Int, k: Int, _ body: () -> Void) -> Double {
        let reps = max(1, 2_000_000 / max(1, n * n * k))
        var best = Double.infinity
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<reps { body() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / Double(reps))
        }
        return best
    }
}
