import Foundation
import ArgumentParser

/// Checks of numeric command-line values, run by each command's `validate()`
/// before any file is read: a bad value is a usage error (exit 64) naming the
/// option, never a trap deeper down (`Int(1e300)`, a NaN tolerance).
enum OptionCheck {
    /// Longest wall-clock budget accepted, in seconds (a year: more is surely a unit slip).
    static let maximumSeconds = 365.0 * 24 * 3600
    /// Largest count accepted for iterations, messages, samples (beyond it a run never ends).
    static let maximumCount = 1_000_000_000

    static func number(_ value: Double, _ option: String, in range: ClosedRange<Double>,
                       open lowerOpen: Bool = false) throws {
        guard value.isFinite, range.contains(value), !(lowerOpen && value == range.lowerBound) else {
            let low = lowerOpen ? "greater than \(range.lowerBound)" : "at least \(range.lowerBound)"
            throw ValidationError("\(option) must be a finite number \(low) and at most \(range.upperBound), not \(value)")
        }
    }

    static func seconds(_ value: Double?, _ option: String, milliseconds: Bool = false) throws {
        guard let value else { return }
        try number(value, option, in: 0...(milliseconds ? maximumSeconds * 1000 : maximumSeconds))
    }

    static func count(_ value: Int?, _ option: String, in range: ClosedRange<Int> = 0...maximumCount) throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw ValidationError("\(option) must be an integer from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
    }

    static func choice(_ value: String?, _ option: String, _ allowed: [String]) throws {
        guard let value, !allowed.contains(value) else { return }
        throw ValidationError("\(option) must be \(allowed.joined(separator: ", ")), not '\(value)'")
    }

    /// A comma-separated list of finite numbers (its length is checked later, against the model).
    static func numbers(_ text: String?, _ option: String, nonNegative: Bool = false) throws {
        guard let text else { return }
        let values: [Double]
        do { values = try parseNumbers(text, field: option) } catch { throw ValidationError("\(error)") }
        if nonNegative, let i = values.firstIndex(where: { $0 < 0 }) {
            throw ValidationError("\(option): value \(i) is negative")
        }
    }

    /// A comma-separated list of non-negative integer indices.
    static func indices(_ text: String, _ option: String, limit: Int = 1 << 20) throws -> [Int] {
        try text.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { i, part in
            let s = part.trimmingCharacters(in: .whitespaces)
            guard let v = Int(s), (0..<limit).contains(v) else {
                throw ValidationError("\(option): value \(i) ('\(s)') is not an index from 0 to \(limit - 1)")
            }
            return v
        }
    }
}
