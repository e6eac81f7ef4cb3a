/// Dense products small enough that an OpenBLAS call costs more in dispatch, packing and
/// argument checks than in arithmetic: the layers of controller networks and the
/// few-column objective blocks of a monitor's tube. Plain loops over contiguous columns,
/// which the compiler vectorises. Any summation order is covered by the dual bound's and
/// IBP's rounding margins (γ_n bounds every order), so switching kernels changes no claim.
public enum SmallKernels {
    /// Largest m·n·k done here rather than by OpenBLAS. Measured by `reachguard bench-kernels`
    /// (OpenBLAS 0.3.21, Cooper Lake): the loops win up to 16–64 (a 4×4 matrix-vector product:
    /// 14 against 65 ns), OpenBLAS's small-matrix kernels from there on (16×16 on 16 columns:
    /// 176 against 1,271 ns).
    public static let maximumWork = 64

    /// C = alpha·op(A)·op(B) + beta·C, column-major, BLAS's argument convention (C is not
    /// read when beta is 0).
    @inlinable
    public static func gemm(m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, transposeA: Bool,
                            b: UnsafePointer<Double>, ldb: Int, transposeB: Bool,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        for j in 0..<n {
            let cj = c + j * ldc
            if beta == 0 {
                for i in 0..<m { cj[i] = 0 }
            } else if beta != 1 {
                for i in 0..<m { cj[i] *= beta }
            }
            if transposeA {
                dotColumns(m: m, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, transposeB: transposeB,
                           column: j, into: cj)
            } else {
                for p in 0..<k {
                    axpy(m, alpha * (transposeB ? b[j + p * ldb] : b[p + j * ldb]), a + p * lda, cj)
                }
            }
        }
    }

    /// The lanes of the explicit vector loops (AVX-512 holds 8 doubles; narrower units split it).
    public typealias Lanes = SIMD8<Double>

    /// y += s·x over n contiguous values, in `Lanes` (the compiler cannot prove x and y apart,
    /// so it would not vectorise the scalar loop).
    @inlinable
    static func axpy(_ n: Int, _ s: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        let w = Lanes.scalarCount
        var i = 0
        while i + w <= n {
            let v = UnsafeRawPointer(y + i).loadUnaligned(as: Lanes.self)
                + UnsafeRawPointer(x + i).loadUnaligned(as: Lanes.self) * s
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: Lanes.self)
            i += w
        }
        while i < n {
            y[i] += x[i] * s
            i += 1
        }
    }

    /// xᵀy over n contiguous values, in `Lanes`.
    @inlinable
    static func dot(_ n: Int, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double {
        let w = Lanes.scalarCount
        var acc = Lanes()
        var i = 0
        while i + w <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: Lanes.self)
                * UnsafeRawPointer(y + i).loadUnaligned(as: Lanes.self)
            i += w
        }
        var s = acc.sum()
        while i < n {
            s += x[i] * y[i]
            i += 1
        }
        return s
    }

    /// Column j of C += alpha·Aᵀ·op(B): one dot product of contiguous columns per entry.
    @inlinable
    static func dotColumns(m: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                           b: UnsafePointer<Double>, ldb: Int, transposeB: Bool, column j: Int,
                           into cj: UnsafeMutablePointer<Double>) {
        for i in 0..<m {
            let ai = a + i * lda
            var s = 0.0
            if transposeB {
                for p in 0..<k { s += ai[p] * b[j + p * ldb] }
            } else {
                s = dot(k, ai, b + j * ldb)
            }
            cj[i] += alpha * s
        }
    }
}
