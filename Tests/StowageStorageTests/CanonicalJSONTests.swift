import Foundation
import StowageCore
import StowageTestSupport
import Testing

@testable import StowageStorage

/// The log and snapshots are written by `CanonicalJSONEncoder`; files written before it by
/// Foundation's `JSONEncoder` must stay byte-identical to what it writes now.
struct CanonicalJSONTests {
    static func foundation(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    @Test(arguments: [1, 2, 3])
    func recordsAndStatesAreWrittenAsFoundationWritesThem(seed: UInt64) throws {
        var generator = CommandGenerator(seed: seed)
        var state = RegistryState()
        for sequence in 1...400 {
            let (scope, command) = generator.next(for: state)
            let envelope = Envelope(
                sequence: UInt64(sequence), time: Timestamp(millisecondsSinceEpoch: Int64(sequence) * 1_000),
                scope: scope, command: command)
            var record = LogRecord(envelope: envelope)
            do { try state.apply(envelope) } catch { record.refusal = error }
            #expect(try CanonicalJSONEncoder().encode(record) == Self.foundation(record))
        }
        #expect(try CanonicalJSONEncoder().encode(state) == Self.foundation(state))
    }

    @Test func theGoldenStateIsWrittenAsFoundationWritesIt() throws {
        let state = GoldenFixture.state
        #expect(try CanonicalJSONEncoder().encode(state) == Self.foundation(state))
    }

    struct Sample: Codable, Equatable {
        var text: String
        var numbers: [Int64]
        var unsigned: UInt64
        var small: Int8
        var flag: Bool
        var fraction: Double
        var whole: Double
        var missing: String?
        var null: String??
        var map: [String: [String: Int]]
        var keyed: [Int: String]
        var nested: [[Bool]]
    }

    @Test func everyEscapeNumberAndContainerMatches() throws {
        let everything = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self) + "é€𝄞\u{2028}\u{2029}/"
        let sample = Sample(
            text: everything, numbers: [Int64.min, -1, 0, Int64.max], unsigned: UInt64.max, small: -8, flag: true,
            fraction: 0.1, whole: 1764400000, missing: nil, null: .some(nil),
            map: ["b": ["z": 1, "a": 2], "a": [:], "B": ["é": 3, "e": 4], "": ["\u{1}": 5]],
            keyed: [3: "c", 1: "a", 20: "t"], nested: [[], [true, false]])
        #expect(try CanonicalJSONEncoder().encode(sample) == Self.foundation(sample))
        #expect(try CanonicalJSONEncoder().encode([everything]) == Self.foundation([everything]))
        #expect(try CanonicalJSONEncoder().encode(42) == Self.foundation(42))
    }

    @Test func nonFiniteNumbersAreRefused() {
        #expect(throws: EncodingError.self) { try CanonicalJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try CanonicalJSONEncoder().encode(["x": Double.infinity]) }
    }
}
