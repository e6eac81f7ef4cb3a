/// A constant tensor met during import, row-major (C order) as ONNX stores it.
struct Tensor {
    var shape: [Int]
    var data: [Double]

    var count: Int { data.count }

    init(shape: [Int], data: [Double]) {
        self.shape = shape
        self.data = data
    }

    init(scalar: Double) {
        self.init(shape: [], data: [scalar])
    }
}

enum Shape {
    /// The number of values; Int.max when the product overflows (a shape read
    /// from a file may say anything), so that every size check refuses it.
    static func count(_ shape: [Int]) -> Int {
        var total = 1
        for d in shape {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return Int.max }
            total = p
        }
        return total
    }

    /// NumPy broadcasting of two shapes, nil if they do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: n - a.count) + a
        let pb = [Int](repeating: 1, count: n - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            if x == y || y == 1 { out.append(x) } else if x == 1 { out.append(y) } else { return nil }
        }
        return out
    }

    /// Values of `t` broadcast to `shape` (which must be a broadcast of t's shape).
    static func expand(_ t: Tensor, to shape: [Int]) -> [Double] {
        let n = shape.count
        let ts = [Int](repeating: 1, count: n - t.shape.count) + t.shape
        let total = count(shape)
        if t.count == total { return t.data }
        if t.count == 1 { return [Double](repeating: t.data[0], count: total) }
        var strides = [Int](repeating: 0, count: n)
        var s = 1
        for i in stride(from: n - 1, through: 0, by: -1) {
            strides[i] = ts[i] == 1 ? 0 : s
            s *= ts[i]
        }
        var out = [Double](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: n)
        for k in 0..<total {
            var offset = 0
            for i in 0..<n { offset += index[i] * strides[i] }
            out[k] = t.data[offset]
            var i = n - 1
            while i >= 0 {
                index[i] += 1
                if index[i] < shape[i] { break }
                index[i] = 0
                i -= 1
            }
        }
        return out
    }

    /// Drops leading 1s (the batch dimension of one) for comparing activations.
    static func squeezedLeading(_ s: [Int]) -> [Int] {
        var r = s[...]
        while r.count > 1, r.first == 1 { r = r.dropFirst() }
        return Array(r)
    }
}
