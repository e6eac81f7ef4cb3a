import XCTest
@testable import Transport

final class LibraryTests: XCTestCase {
    func testZeroMQIsLinkedAndRecentEnough() {
        let parts = TransportLibraries.zeroMQVersion.split(separator: ".").compactMap { Int($0) }
        XCTAssertEqual(parts.count, 3)
        XCTAssertGreaterThanOrEqual(parts.first ?? 0, 4, "ReachGuard needs libzmq 4 (ZMQ_CONFLATE-free newest-wins, CURVE)")
    }
}
