/// Elementwise bounds lower ≤ x ≤ upper.
public struct Interval: Sendable, Equatable {
    public var lower: [Double]
    public var upper: [Double]

    public init(lower: [Double], upper: [Double]) {
        // Box files and messages are checked for equal lengths before an Interval is made.
        precondition(lower.count == upper.count, "Interval: bounds of different lengths")
        self.lower = lower
        self.upper = upper
    }

    public var count: Int { lower.count }

    public static func unbounded(_ n: Int) -> Interval {
        Interval(lower: [Double](repeating: -.infinity, count: n), upper: [Double](repeating: .infinity, count: n))
    }

    public var widths: [Double] { zip(lower, upper).map { $1 - $0 } }
    public var center: [Double] { zip(lower, upper).map { ($0 + $1) / 2 } }

    /// Largest magnitude a point of the interval can have, per coordinate.
    public var magnitudes: [Double] { zip(lower, upper).map { max(abs($0), abs($1)) } }

    /// Both are sound, so their intersection is.
    public func intersected(with other: Interval) -> Interval {
        Interval(lower: zip(lower, other.lower).map { max($0, $1) },
                 upper: zip(upper, other.upper).map { min($0, $1) })
    }

    /// `intersected(with:)` in place (the same max and min per coordinate), for storage kept across messages.
    public mutating func intersect(with other: Interval) {
        // Internal: both bound one node.
        precondition(count == other.count, "Interval: intersecting bounds of different lengths")
        for i in 0..<count {
            lower[i] = max(lower[i], other.lower[i])
            upper[i] = min(upper[i], other.upper[i])
        }
    }

    /// `magnitudes` into `out` (resized to the count; its storage reused when it is unique).
    public func magnitudes(into out: inout [Double]) {
        out.removeAll(keepingCapacity: true)
        for i in 0..<count { out.append(max(abs(lower[i]), abs(upper[i]))) }
    }

    /// An interval with no coordinates: a placeholder that allocates nothing.
    static let empty = Interval(lower: [], upper: [])

    /// Makes both bounds n long, their contents meaningless, reusing the storage when the count is already n.
    mutating func resize(to n: Int) {
        guard count != n else { return }
        lower = [Double](repeating: 0, count: n)
        upper = [Double](repeating: 0, count: n)
    }

    /// Becomes a copy of `other` written into this interval's own storage (reused when unique and of
    /// other's count), so that storage kept across messages never shares the caller's.
    mutating func assign(_ other: Interval) {
        resize(to: other.count)
        for i in 0..<other.count { (lower[i], upper[i]) = (other.lower[i], other.upper[i]) }
    }

    /// Whether some coordinate's lower bound exceeds its upper one: no point lies in the interval.
    public var isEmpty: Bool { zip(lower, upper).contains { $0 > $1 } }

    public func contains(_ x: [Double], tolerance: Double = 0) -> Bool {
        x.indices.allSatisfy { lower[$0] - tolerance <= x[$0] && x[$0] <= upper[$0] + tolerance }
    }
}

/// Problems with an input box, named by the coordinate at fault.
public struct BoxError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Interval {
    /// Checks an input box: finite values, lower ≤ upper, the right dimension.
    public func validatedAsBox(dimension: Int, name: String = "box") throws -> Interval {
        guard count == dimension else {
            throw BoxError("\(name) has \(count) coordinates; the network takes \(dimension)")
        }
        for i in 0..<count {
            guard lower[i].isFinite else { throw BoxError("\(name): lower[\(i)] is \(lower[i]), not a finite number") }
            guard upper[i].isFinite else { throw BoxError("\(name): upper[\(i)] is \(upper[i]), not a finite number") }
            guard lower[i] <= upper[i] else {
                throw BoxError("\(name): coordinate \(i) has lower \(lower[i]) > upper \(upper[i])")
            }
        }
        return self
    }
}

/// Unit roundoff terms for the rounding margins: a sum of n products computed in
/// double precision is within γ(n)·Σ|products| of the exact sum (Higham, §3.1).
public enum Rounding {
    public static func gamma(_ n: Int) -> Double {
        let u = Double.ulpOfOne / 2
        let nu = Double(n + 4) * u
        return 2 * nu / (1 - nu)   // twice the classical bound, for accumulations on top
    }
}
