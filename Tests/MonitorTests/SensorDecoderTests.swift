import Foundation
import XCTest
@testable import Monitor

final class SensorDecoderTests: XCTestCase {
    let decoder = SensorDecoder(topic: "state", stateCount: 2, maximumBytes: 1024)

    func frames(_ json: String) -> [Data] { [Data("state".utf8), Data(json.utf8)] }

    func testDecodesAMessageWithAndWithoutRadius() throws {
        let a = try decoder.decode(frames(#"{"seq": 7, "stamp": 12.5, "x": [1, -2.5e-1]}"#)).get()
        XCTAssertEqual(a, SensorMessage(seq: 7, stamp: 12.5, x: [1, -0.25], radius: nil))
        let b = try decoder.decode(frames(#"{"seq": 8, "stamp": 13, "x": [0, 0], "radius": [0.1, 0.2]}"#)).get()
        XCTAssertEqual(b.radius, [0.1, 0.2])
    }

    func testEveryBadInputIsRefusedByName() {
        let cases: [([Data], String, UInt64?)] = [
            (frames("not json"), "not JSON", nil),
            (frames(#"{"stamp": 1, "x": [0, 0]}"#), "missing 'seq'", nil),
            (frames(#"{"seq": -1, "stamp": 1, "x": [0, 0]}"#), "unsigned integer literal", nil),
            (frames(#"{"seq": 3, "stamp": 1, "x": [0, 0, 0]}"#), "has 3 values", 3),
            (frames(#"{"seq": 4, "stamp": 1, "x": [NaN, 0]}"#), "x[0] is nan", 4),
            (frames(#"{"seq": 5, "stamp": 1, "x": [0, Infinity]}"#), "x[1] is inf", 5),
            (frames(#"{"seq": 6, "stamp": 1, "x": [0, 1e999]}"#), "x[1] is inf", 6),
            (frames(#"{"seq": 7, "stamp": 1, "x": [0, 0], "radius": [0.1, -0.1]}"#), "radius[1] is negative", 7),
            (frames(#"{"seq": 8, "stamp": 1, "x": [0, "a"]}"#), "x[1] is not a number", 8),
            (frames(#"{"seq": 9, "x": [0, 0]}"#), "missing 'stamp'", 9),
            ([Data("state".utf8)], "expected 2 frames", nil),
            ([Data("other".utf8), Data("{}".utf8)], "unexpected topic", nil),
            (frames(String(repeating: " ", count: 2000) + "{}"), "exceeds 1024", nil),
            (frames(String(repeating: "[", count: 100)), "nested too deeply", nil),
            (frames(#"[1, 2]"#), "not a JSON object", nil),
        ]
        for (f, want, seq) in cases {
            switch decoder.decode(f) {
            case .success(let m): XCTFail("decoded \(m) but wanted '\(want)'")
            case .failure(let e):
                XCTAssertTrue(e.description.contains(want), "'\(e.description)' lacks '\(want)'")
                XCTAssertEqual(e.seq, seq, want)
            }
        }
    }

    /// seq takes the whole uint64 range, read exactly, and only plain integer literals.
    func testSeqIsAnExactUInt64Literal() throws {
        for (text, want) in [("0", UInt64(0)), ("9007199254740993", 9_007_199_254_740_993),
                             ("18446744073709551615", .max)] {
            let m = try decoder.decode(frames(#"{"seq": \#(text), "stamp": 0, "x": [0, 0]}"#)).get()
            XCTAssertEqual(m.seq, want, text)
        }
        for text in ["18446744073709551616", "99999999999999999999", "-1", "-0", "1.5", "5.0", "1e3", "01", "NaN",
                     "Infinity", "+7", "\"7\"", "true"] {
            switch decoder.decode(frames(#"{"seq": \#(text), "stamp": 0, "x": [0, 0]}"#)) {
            case .success(let m): XCTFail("seq \(text) decoded as \(m.seq)")
            case .failure(let e):
                XCTAssertNil(e.seq, text)
                XCTAssertTrue(e.description.contains("'seq'"), "'\(e.description)' does not name seq")
            }
        }
    }
}
