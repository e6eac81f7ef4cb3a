import COpenBLAS

public struct LinearAlgebraError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Cholesky factor of a symmetric positive definite matrix (LAPACK dpotrf),
/// kept for repeated solves with many right-hand sides (dpotrs).
public struct CholeskyFactor: Sendable {
    public let order: Int
    /// Lower triangle holds L with A = L Lᵀ (column-major).
    public private(set) var factor: [Double]

    public init(_ a: Matrix) throws {
        // Internal: I + WᵀW and I + WWᵀ are square by construction.
        precondition(a.rows == a.cols, "Cholesky: matrix is not square")
        order = a.rows
        factor = a.data
        if order == 0 { return }
        var n = Int32(order)
        var lda = Int32(order)
        var info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "L"))
        factor.withUnsafeMutableBufferPointer { p in
            dpotrf_(&uplo, &n, p.baseAddress, &lda, &info)
        }
        if info != 0 {
            throw LinearAlgebraError(info > 0
                ? "Cholesky: matrix is not positive definite (leading minor \(info))"
                : "Cholesky: invalid argument \(-info)")
        }
    }

    /// Solves A X = B in place; `b` holds `columns` right-hand sides of length `order`.
    public func solve(_ b: UnsafeMutablePointer<Double>, columns: Int) {
        if order == 0 || columns == 0 { return }
        var n = Int32(order)
        var nrhs = Int32(columns)
        var lda = Int32(order)
        var ldb = Int32(order)
        var info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "L"))
        factor.withUnsafeBufferPointer { p in
            dpotrs_(&uplo, &n, &nrhs, p.baseAddress, &lda, b, &ldb, &info)
        }
        // dpotrs fails only on invalid arguments, which the factor above rules out.
        precondition(info == 0, "dpotrs failed with info \(info)")
    }

    public func solve(_ b: Matrix) -> Matrix {
        // Internal: right-hand sides are stacked from the same node.
        precondition(b.rows == order, "Cholesky solve: \(b.rows) rows for order \(order)")
        var x = b
        x.data.withUnsafeMutableBufferPointer { p in
            if let base = p.baseAddress { solve(base, columns: b.cols) }
        }
        return x
    }

    public func solve(_ b: [Double]) -> [Double] {
        solve(Matrix(rows: b.count, cols: 1, columnMajor: b)).data
    }
}
