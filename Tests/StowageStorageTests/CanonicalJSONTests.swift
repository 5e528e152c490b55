import Foundation
import HashTreeCollections
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

    @Test func anImagesTagsAreWrittenSortedWhateverOrderTheyArrivedIn() throws {
        let config = StowageCore.Descriptor(
            mediaType: "application/vnd.oci.image.config.v1+json", digest: ContentDigester.digest(Array("c".utf8)),
            size: 1)
        let manifest = Manifest(
            digest: ContentDigester.digest(Array("m".utf8)), mediaType: "application/vnd.oci.image.manifest.v1+json",
            content: "{}", references: ManifestReferences(config: config))
        let names = ["v10", "latest", "a", "v2", "zeta", "b-1"]
        var forwards = Image(manifest: manifest, pushedAt: Timestamp(millisecondsSinceEpoch: 1))
        var backwards = forwards
        for name in names { forwards.tags.insert(Tag(name)!) }
        for name in names.reversed() { backwards.tags.insert(Tag(name)!) }
        let bytes = try CanonicalJSONEncoder().encode(forwards)
        #expect(bytes == (try CanonicalJSONEncoder().encode(backwards)))
        #expect(bytes == (try Self.foundation(forwards)))
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""tags":["a","b-1","latest","v10","v2","zeta"]"#))
        let decoded = try JSONDecoder().decode(Image.self, from: Data(bytes))
        #expect(decoded == forwards && decoded.sortedTags == names.map { Tag($0)! }.sorted())
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
