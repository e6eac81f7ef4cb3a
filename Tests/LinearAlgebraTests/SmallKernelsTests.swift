import XCTest
@testable import LinearAlgebra

/// The small-matrix loops against OpenBLAS's dgemm (an independent implementation) on every
/// transpose combination, leading dimensions larger than the rows, alpha and beta, and sizes
/// on both sides of the SIMD width.
final class SmallKernelsTests: XCTestCase {
    func testLoopsMatchOpenBLASOnEveryTransposeAndShape() {
        var rng = SplitMix64(seed: 11)
        var checked = 0
        for (m, n, k) in [(1, 1, 1), (3, 2, 5), (8, 1, 8), (9, 3, 17), (4, 4, 4), (16, 2, 2), (2, 7, 9)] {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for (alpha, beta) in [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)] {
                        // Stored shapes, with a padded leading dimension to catch stride mistakes.
                        let (ar, ac) = transposeA ? (k, m) : (m, k)
                        let (br, bc) = transposeB ? (n, k) : (k, n)
                        let lda = ar + 2, ldb = br + 1, ldc = m + 3
                        let a = (0..<(lda * ac)).map { _ in rng.unit() - 0.5 }
                        let b = (0..<(ldb * bc)).map { _ in rng.unit() - 0.5 }
                        let c0 = (0..<(ldc * n)).map { _ in rng.unit() - 0.5 }
                        var loops = c0, blas = c0
                        a.withUnsafeBufferPointer { ap in
                            b.withUnsafeBufferPointer { bp in
                                loops.withUnsafeMutableBufferPointer { cp in
                                    guard let pa = ap.baseAddress, let pb = bp.baseAddress,
                                          let pc = cp.baseAddress else { return XCTFail("empty operand") }
                                    SmallKernels.gemm(m: m, n: n, k: k, alpha: alpha, a: pa, lda: lda,
                                                      transposeA: transposeA, b: pb, ldb: ldb,
                                                      transposeB: transposeB, beta: beta, c: pc, ldc: ldc)
                                }
                                blas.withUnsafeMutableBufferPointer { cp in
                                    BLAS.openBLASGemm(m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress, lda: lda,
                                                      transposeA: transposeA, b: bp.baseAddress, ldb: ldb,
                                                      transposeB: transposeB, beta: beta, c: cp.baseAddress,
                                                      ldc: ldc)
                                }
                            }
                        }
                        for j in 0..<n {
                            for i in 0..<ldc {
                                let label = "m=\(m) n=\(n) k=\(k) tA=\(transposeA) tB=\(transposeB) (\(i), \(j))"
                                if i < m {
                                    XCTAssertEqual(loops[i + j * ldc], blas[i + j * ldc], accuracy: 1e-12, label)
                                } else {
                                    XCTAssertEqual(loops[i + j * ldc], c0[i + j * ldc], "padding written: \(label)")
                                }
                            }
                        }
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, 7 * 4 * 3)
    }
}
