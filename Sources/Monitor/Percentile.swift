/// The nearest-rank percentile: the smallest value of `sorted` (ascending) with
/// at least a fraction `p` of the values at or below it; p = 0 gives the minimum.
/// Nil when `sorted` is empty or `p` is outside 0...1. The heartbeat, `bench-monitor`
/// and `soak` all report this one, so their p50 and p99 can be compared.
public func percentile(_ p: Double, ofSorted sorted: [Double]) -> Double? {
    guard !sorted.isEmpty, (0...1).contains(p) else { return nil }
    let exact = p * Double(sorted.count)
    // 0.07 * 100 is 7.000000000000001 in binary: a product this close to a whole
    // number is that rank, not the next one.
    let rank = abs(exact - exact.rounded()) < 1e-9 ? exact.rounded() : exact.rounded(.up)
    return sorted[min(sorted.count, max(1, Int(rank))) - 1]
}
