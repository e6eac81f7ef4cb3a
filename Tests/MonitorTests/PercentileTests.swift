import Monitor
import XCTest

final class PercentileTests: XCTestCase {
    /// Nearest rank: the smallest value with at least a fraction p of the values at or below it.
    func testNearestRankOnSmallArrays() {
        let four: [Double] = [1, 2, 3, 4]
        XCTAssertEqual(percentile(0, ofSorted: four), 1)
        XCTAssertEqual(percentile(0.25, ofSorted: four), 1)
        XCTAssertEqual(percentile(0.26, ofSorted: four), 2)
        XCTAssertEqual(percentile(0.5, ofSorted: four), 2)
        XCTAssertEqual(percentile(0.99, ofSorted: four), 4)
        XCTAssertEqual(percentile(1, ofSorted: four), 4)
        XCTAssertEqual(percentile(0.5, ofSorted: [1, 2, 3]), 2)
        XCTAssertEqual(percentile(0.99, ofSorted: [7]), 7)
        XCTAssertEqual(percentile(0.5, ofSorted: [10, 20]), 10)
    }

    /// Ranks that binary floating point puts a hair past a whole number (0.07 * 100) stay on it.
    func testWholeRanksSurviveRounding() {
        let hundred = (1...100).map(Double.init)
        XCTAssertEqual(percentile(0.07, ofSorted: hundred), 7)
        XCTAssertEqual(percentile(0.29, ofSorted: hundred), 29)
        XCTAssertEqual(percentile(0.5, ofSorted: hundred), 50)
        XCTAssertEqual(percentile(0.99, ofSorted: hundred), 99)
        XCTAssertEqual(percentile(0.999, ofSorted: hundred), 100)
    }

    func testNoValueForNoDataOrAFractionOutsideZeroToOne() {
        XCTAssertNil(percentile(0.5, ofSorted: []))
        XCTAssertNil(percentile(1.5, ofSorted: [1]))
        XCTAssertNil(percentile(-0.1, ofSorted: [1]))
        XCTAssertNil(percentile(.nan, ofSorted: [1]))
    }
}
