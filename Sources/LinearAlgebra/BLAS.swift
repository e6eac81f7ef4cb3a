import COpenBLAS

/// Thin wrappers over OpenBLAS's CBLAS, column-major throughout.
public enum BLAS {
    /// C = alpha * op(A) * op(B) + beta * C.
    public static func gemm(_ a: Matrix, _ b: Matrix, into c: inout Matrix,
                            transposeA: Bool = false, transposeB: Bool = false,
                            alpha: Double = 1, beta: Double = 0) {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows
        let n = transposeB ? b.rows : b.cols
        // Shapes are fixed by the graph, validated when it was built (Graph.addAffine).
        precondition(k == kb && c.rows == m && c.cols == n, "gemm: shape mismatch")
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                c.data.withUnsafeMutableBufferPointer { pc in
                    gemm(m: m, n: n, k: k, alpha: alpha,
                         a: pa.baseAddress, lda: max(1, a.rows), transposeA: transposeA,
                         b: pb.baseAddress, ldb: max(1, b.rows), transposeB: transposeB,
                         beta: beta, c: pc.baseAddress, ldc: max(1, m))
                }
            }
        }
    }

    /// Pointer form for hot loops that keep their own buffers.
    @inlinable
    public static func gemm(m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>?, lda: Int, transposeA: Bool,
                            b: UnsafePointer<Double>?, ldb: Int, transposeB: Bool,
                            beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched when k == 0 only if beta == 1; do it explicitly.
            guard let c else { return }
            for j in 0..<n { for i in 0..<m { c[i + j * ldc] = beta == 0 ? 0 : beta * c[i + j * ldc] } }
            return
        }
        if m * n * k <= SmallKernels.maximumWork, let a, let b, let c {
            SmallKernels.gemm(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, transposeA: transposeA,
                              b: b, ldb: ldb, transposeB: transposeB, beta: beta, c: c, ldc: ldc)
            return
        }
        openBLASGemm(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, transposeA: transposeA,
                     b: b, ldb: ldb, transposeB: transposeB, beta: beta, c: c, ldc: ldc)
    }

    /// OpenBLAS's dgemm whatever the size (large layers, convolutions, and the crossover benchmark).
    @inlinable
    public static func openBLASGemm(m: Int, n: Int, k: Int, alpha: Double,
                                    a: UnsafePointer<Double>?, lda: Int, transposeA: Bool,
                                    b: UnsafePointer<Double>?, ldb: Int, transposeB: Bool,
                                    beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int) {
        cblas_dgemm(CblasColMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha,
                    a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// y = alpha * op(A) * x + beta * y.
    public static func gemv(_ a: Matrix, _ x: [Double], into y: inout [Double],
                            transpose: Bool = false, alpha: Double = 1, beta: Double = 0) {
        let outCount = transpose ? a.cols : a.rows
        let inCount = transpose ? a.rows : a.cols
        // Shapes are fixed by the graph, validated when it was built (Graph.addAffine).
        precondition(x.count == inCount && y.count == outCount, "gemv: shape mismatch")
        if outCount == 0 { return }
        if inCount == 0 {
            for i in 0..<outCount { y[i] = beta == 0 ? 0 : beta * y[i] }
            return
        }
        a.data.withUnsafeBufferPointer { pa in
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    if a.rows * a.cols <= SmallKernels.maximumWork, let ap = pa.baseAddress,
                       let xp = px.baseAddress, let yp = py.baseAddress {
                        SmallKernels.gemm(m: outCount, n: 1, k: inCount, alpha: alpha, a: ap, lda: max(1, a.rows),
                                          transposeA: transpose, b: xp, ldb: inCount, transposeB: false,
                                          beta: beta, c: yp, ldc: outCount)
                        return
                    }
                    cblas_dgemv(CblasColMajor, transpose ? CblasTrans : CblasNoTrans,
                                blasint(a.rows), blasint(a.cols), alpha,
                                pa.baseAddress, blasint(max(1, a.rows)),
                                px.baseAddress, 1, beta, py.baseAddress, 1)
                }
            }
        }
    }

    public static func dot(_ x: [Double], _ y: [Double]) -> Double {
        // Internal: both vectors come from one node.
        precondition(x.count == y.count)
        if x.isEmpty { return 0 }
        return cblas_ddot(blasint(x.count), x, 1, y, 1)
    }
}

/// OpenBLAS threading. A monitor on a small CPU must not oversubscribe its cores
/// (the daemon's own threads need them), and for the small matrices of
/// controller networks the serial kernels beat the threaded ones, whose
/// start-up cost dominates. So ReachGuard runs OpenBLAS single-threaded unless
/// told otherwise (`REACHGUARD_BLAS_THREADS` or a command-line flag).
public enum BLASThreads {
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    public static var current: Int { Int(openblas_get_num_threads()) }

    /// Applies `REACHGUARD_BLAS_THREADS` if set, else one thread.
    public static func configureFromEnvironment(_ environment: [String: String]) {
        if let text = environment["REACHGUARD_BLAS_THREADS"], let n = Int(text), n >= 1 {
            set(n)
        } else {
            set(1)
        }
    }
}

public extension BLAS {
    @inlinable
    static func dot(_ n: Int, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double {
        n == 0 ? 0 : cblas_ddot(blasint(n), x, 1, y, 1)
    }

    /// y += a·x
    @inlinable
    static func axpy(_ n: Int, _ a: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        if n > 0 { cblas_daxpy(blasint(n), a, x, 1, y, 1) }
    }
}
