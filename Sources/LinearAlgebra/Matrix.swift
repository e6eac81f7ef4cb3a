/// A dense matrix of `Double`, stored column-major (LAPACK's order), so that a
/// batch of objectives is a matrix whose columns are contiguous.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    public var data: [Double]

    public init(rows: Int, cols: Int, repeating value: Double = 0) {
        // Shapes come from validated graphs and files (sizes are checked at import).
        precondition(rows >= 0 && cols >= 0)
        self.rows = rows
        self.cols = cols
        self.data = Array(repeating: value, count: rows * cols)
    }

    /// `data` in column-major order.
    public init(rows: Int, cols: Int, columnMajor data: [Double]) {
        // Internal: every caller computes data from rows and cols.
        precondition(data.count == rows * cols, "Matrix: \(data.count) values for \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.data = data
    }

    /// Rows of equal length, as one writes a matrix by hand.
    public init(_ rowList: [[Double]]) {
        let r = rowList.count
        let c = rowList.first?.count ?? 0
        // TOML matrices are checked for ragged rows before (SystemDescription.matrix).
        precondition(rowList.allSatisfy { $0.count == c }, "Matrix: ragged rows")
        var d = [Double](repeating: 0, count: r * c)
        for i in 0..<r { for j in 0..<c { d[i + j * r] = rowList[i][j] } }
        self.init(rows: r, cols: c, columnMajor: d)
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.data[i + i * n] = 1 }
        return m
    }

    @inlinable
    public subscript(i: Int, j: Int) -> Double {
        get { data[i + j * rows] }
        set { data[i + j * rows] = newValue }
    }

    public func row(_ i: Int) -> [Double] { (0..<cols).map { self[i, $0] } }
    public func column(_ j: Int) -> [Double] { Array(data[(j * rows)..<((j + 1) * rows)]) }
    public var rowList: [[Double]] { (0..<rows).map { row($0) } }

    public var transposed: Matrix {
        var t = Matrix(rows: cols, cols: rows)
        for j in 0..<cols { for i in 0..<rows { t.data[j + i * cols] = data[i + j * rows] } }
        return t
    }

    /// Entry-wise absolute value: |W| bounds rounding errors and interval widths.
    public var magnitude: Matrix {
        Matrix(rows: rows, cols: cols, columnMajor: data.map { abs($0) })
    }

    /// Columns `range` as a new matrix.
    public func columns(_ range: Range<Int>) -> Matrix {
        Matrix(rows: rows, cols: range.count,
               columnMajor: Array(data[(range.lowerBound * rows)..<(range.upperBound * rows)]))
    }

    public var isFinite: Bool { data.allSatisfy { $0.isFinite } }
}

public extension Matrix {
    static func * (a: Matrix, b: Matrix) -> Matrix {
        var c = Matrix(rows: a.rows, cols: b.cols)
        BLAS.gemm(a, b, into: &c)
        return c
    }

    static func * (a: Matrix, x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: a.rows)
        BLAS.gemv(a, x, into: &y)
        return y
    }
}

public extension Matrix {
    /// From row-major values (C order, as ONNX and NumPy store them).
    init(rows: Int, cols: Int, rowMajor values: [Double]) {
        // Internal: every caller computes values from rows and cols.
        precondition(values.count == rows * cols, "Matrix: \(values.count) values for \(rows)x\(cols)")
        var d = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows { for j in 0..<cols { d[i + j * rows] = values[i * cols + j] } }
        self.init(rows: rows, cols: cols, columnMajor: d)
    }

    static func diagonal(_ values: [Double]) -> Matrix {
        var m = Matrix(rows: values.count, cols: values.count)
        for (i, v) in values.enumerated() { m[i, i] = v }
        return m
    }

    static func + (a: Matrix, b: Matrix) -> Matrix {
        // Internal: sums of maps of one affine node, whose shapes the graph checked.
        precondition(a.rows == b.rows && a.cols == b.cols)
        return Matrix(rows: a.rows, cols: a.cols, columnMajor: zip(a.data, b.data).map { $0 + $1 })
    }

    static func * (s: Double, a: Matrix) -> Matrix {
        Matrix(rows: a.rows, cols: a.cols, columnMajor: a.data.map { s * $0 })
    }
}
