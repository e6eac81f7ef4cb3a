import XCTest
@testable import LinearAlgebra

final class LinearAlgebraTests: XCTestCase {
    func testGemmMatchesHandComputedProduct() {
        let a = Matrix([[1, 2, 3], [4, 5, 6]])
        let b = Matrix([[7, 8], [9, 10], [11, 12]])
        let c = a * b
        // [1 2 3; 4 5 6] * [7 8; 9 10; 11 12] = [58 64; 139 154]
        XCTAssertEqual(c, Matrix([[58, 64], [139, 154]]))
    }

    func testGemmTransposesAndAccumulates() {
        let a = Matrix([[1, 2], [3, 4]])
        let b = Matrix([[5, 6], [7, 8]])
        var c = Matrix([[1, 1], [1, 1]])
        // Aᵀ Bᵀ = [1 3; 2 4] * [5 7; 6 8] = [23 31; 34 46]; 2·that + 1·C.
        BLAS.gemm(a, b, into: &c, transposeA: true, transposeB: true, alpha: 2, beta: 1)
        XCTAssertEqual(c, Matrix([[47, 63], [69, 93]]))
    }

    func testGemvAndTransposedGemv() {
        let a = Matrix([[1, -1, 2], [0, 3, 1]])
        XCTAssertEqual(a * [1, 2, 3], [5, 9])
        var y = [0.0, 0.0, 0.0]
        BLAS.gemv(a, [2, 1], into: &y, transpose: true)
        XCTAssertEqual(y, [2, 1, 5])
    }

    func testCholeskySolvesHandComputedSystem() throws {
        // A = L Lᵀ with L = [2 0 0; 1 3 0; -1 2 1]; x = [1, -2, 3] gives b = A x.
        let a = Matrix([[4, 2, -2], [2, 10, 5], [-2, 5, 6]])
        let factor = try CholeskyFactor(a)
        // b = A [1, -2, 3] = [4-4-6, 2-20+15, -2-10+18] = [-6, -3, 6]
        let x = factor.solve([-6, -3, 6])
        for (got, want) in zip(x, [1.0, -2.0, 3.0]) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        XCTAssertEqual(factor.factor[0], 2, accuracy: 1e-15)   // L[0,0]
        XCTAssertEqual(factor.factor[1], 1, accuracy: 1e-15)   // L[1,0]
        XCTAssertEqual(factor.factor[4], 3, accuracy: 1e-15)   // L[1,1]
    }

    func testCholeskySolvesSeveralRightHandSides() throws {
        let a = Matrix([[2, 1], [1, 2]])
        let factor = try CholeskyFactor(a)
        // Inverse of [2 1; 1 2] is [2 -1; -1 2] / 3.
        let inv = factor.solve(Matrix.identity(2))
        XCTAssertEqual(inv[0, 0], 2.0 / 3, accuracy: 1e-14)
        XCTAssertEqual(inv[0, 1], -1.0 / 3, accuracy: 1e-14)
        XCTAssertEqual(inv[1, 1], 2.0 / 3, accuracy: 1e-14)
    }

    func testCholeskyRejectsIndefiniteMatrix() {
        XCTAssertThrowsError(try CholeskyFactor(Matrix([[1, 2], [2, 1]]))) { error in
            XCTAssertTrue("\(error)".contains("not positive definite"))
        }
    }

    func testThreadCountIsConfigurable() {
        BLASThreads.set(1)
        XCTAssertEqual(BLASThreads.current, 1)
        BLASThreads.configureFromEnvironment(["REACHGUARD_BLAS_THREADS": "2"])
        XCTAssertEqual(BLASThreads.current, 2)
        BLASThreads.configureFromEnvironment([:])
        XCTAssertEqual(BLASThreads.current, 1)
    }
}
