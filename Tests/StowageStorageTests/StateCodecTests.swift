import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport
import Testing

@testable import StowageStorage

/// Snapshots, recordings and exports write the state by hand (`StateWriter`) and read it by hand
/// (`StateReader`); both must agree byte for byte with the generic encoder and `JSONDecoder`,
/// which wrote and read every file of format v1 before them.
struct StateCodecTests {
    static func generatedStates(seed: UInt64, commands: Int = 600) -> [RegistryState] {
        var generator = CommandGenerator(seed: seed)
        var state = RegistryState()
        var states: [RegistryState] = []
        for sequence in 1...commands {
            let (scope, command) = generator.next(for: state)
            let envelope = Envelope(
                sequence: UInt64(sequence), time: Timestamp(millisecondsSinceEpoch: Int64(sequence) * 1_000),
                scope: scope, command: command)
            try? state.apply(envelope)
            if sequence % 50 == 0 { states.append(state) }
        }
        return states
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func theHandWrittenCodecWritesAndReadsWhatTheGenericOneDoes(seed: UInt64) throws {
        for state in Self.generatedStates(seed: seed) + [GoldenFixture.state, RegistryState()] {
            let generic = try CanonicalJSONEncoder().encode(state)
            let written = try StateCodec.encodeState(state)
            #expect(written == generic)
            #expect(try StateCodec.decodeState(written) == state)
            // Read on every core (each scope's repositories in runs, one thread a run): the same.
            #expect(try StateReader.read(written, parallelAbove: 0) == state)
            #expect(
                try StateCodec.decodeState(written)
                    == (try JSONDecoder().decode(RegistryState.self, from: Data(generic))))
            // In small pieces, as a snapshot streams them, the text is the same.
            var pieces: [UInt8] = []
            var writer = StateWriter(sink: { pieces += $0 }, chunk: 64)
            try writer.write(state)
            #expect(pieces == generic)
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func recordsAreWrittenAsTheGenericEncoderWritesThem(seed: UInt64) throws {
        var generator = CommandGenerator(seed: seed)
        var state = RegistryState()
        var kinds: Set<String> = []
        for sequence in 1...800 {
            let (scope, command) = generator.next(for: state)
            let envelope = Envelope(
                sequence: UInt64(sequence), time: Timestamp(millisecondsSinceEpoch: Int64(sequence) * 1_000),
                scope: scope, command: command)
            var record = LogRecord(envelope: envelope, origin: sequence % 3 == 0 ? "PUT /v2 manifest" : nil)
            if sequence % 7 == 0 { record.cause = RecordCause(trigger: 1, reaction: .scanOnPush) }
            do { try state.apply(envelope) } catch { record.refusal = error }
            kinds.insert(command.kind)
            let bytes = try StateCodec.encodeRecord(record)
            #expect(bytes == (try CanonicalJSONEncoder().encode(record)))
            // And read back as written: the commands written by hand are read by hand.
            #expect(try StateCodec.decodeRecord(bytes) == record)
            if Self.byHand.contains(command.kind) { #expect(try StateReader.readRecordByHand(bytes) == record) }
        }
        // The commands written by hand were among them.
        #expect(kinds.isSuperset(of: Self.byHand))
    }

    static let byHand: Set<String> = ["putBlob", "putManifest", "startUpload", "appendChunk", "commitUpload"]

    /// Records read by hand read as `JSONDecoder` reads them, whatever was done to their text:
    /// a byte taken out or changed anywhere, a member added, doubled, escaped, spaced or nulled.
    /// Either both read the same record or both refuse it (the hand reading gives way to
    /// `JSONDecoder` on anything it does not take, so only an acceptance of its own could differ).
    @Test(arguments: [11, 12])
    func damagedRecordsReadAsJSONDecoderReadsThem(seed: UInt64) throws {
        var generator = CommandGenerator(seed: seed)
        var random = SeededGenerator(seed: seed)
        var state = RegistryState()
        var (compared, acceptedByHand) = (0, 0)
        for sequence in 1...400 {
            let (scope, command) = generator.next(for: state)
            let envelope = Envelope(
                sequence: UInt64(sequence), time: Timestamp(millisecondsSinceEpoch: Int64(sequence)), scope: scope,
                command: command)
            var record = LogRecord(envelope: envelope, origin: sequence % 2 == 0 ? "ECR PutImage" : nil)
            do { try state.apply(envelope) } catch { record.refusal = error }
            guard Self.byHand.contains(command.kind) else { continue }
            let text = try StateCodec.encodeRecord(record)
            var variants: [[UInt8]] = []
            for _ in 0..<12 {
                let at = Int(random.next() % UInt64(text.count))
                var removed = text
                removed.remove(at: at)
                var changed = text
                changed[at] = Array(#"",}{:0a-9 n"#.utf8)[Int(random.next() % 11)]
                variants += [removed, changed]
            }
            let string = String(decoding: text, as: UTF8.self)
            for (from, to) in [
                (#"{"envelope""#, #"{"x":[1,{"y":null}],"envelope""#),
                (#"{"envelope""#, #"{"origin":null,"envelope""#),
                (#"{"command":{"#, #"{"command":{"mountBlob":{},"#),
                (#"{"command":{"#, #"{ "command" : { "#),
                (#""size":"#, #""size":1,"size":"#),
                (#""size":"#, #""size":"#),
                (#""repository":"#, #""repository":null,"x":"#),
                (#""tag":"#, #""tag":null,"x":"#),
                (#""scope":"#, #""scope":"nowhere","x":"#),
                (#""sequence":"#, #""sequence":-"#),
                (#""time":"#, #""time":1.5,"x":"#),
            ] where string.contains(from) {
                variants.append(Array(string.replacingOccurrences(of: from, with: to).utf8))
            }
            for variant in variants {
                let generic = try? StateCodec.decode(LogRecord.self, from: variant)
                let byHand = try? StateReader.readRecordByHand(variant)
                if let byHand {
                    #expect(byHand == generic, "\(String(decoding: variant, as: UTF8.self))")
                    acceptedByHand += 1
                }
                #expect((try? StateCodec.decodeRecord(variant)) == generic)
                compared += 1
            }
        }
        #expect(compared > 1_000)
        #expect(acceptedByHand > 100)
    }

    @Test func aSnapshotDeflatesThePiecesToTheTextItWrote() throws {
        let state = Self.generatedStates(seed: 9, commands: 2_000).last!
        let bytes = try SnapshotFormat.encode(state, sequence: state.sequence)
        let header = try SnapshotFormat.header(bytes)
        let text = try SnapshotFormat.text(bytes)
        #expect(text == (try CanonicalJSONEncoder().encode(state)))
        #expect(header.rawLength == UInt64(text.count))
        #expect(try SnapshotFormat.decode(bytes).state == state)
    }

    @Test func anExportsScopesReadBackAsWritten() throws {
        let state = ExportFormat.exportable(GoldenFixture.state)
        var writer = StateWriter()
        try writer.write(scopes: state.scopes)
        #expect(try StateReader.readScopes(writer.output) == state.scopes)
    }

    static func damage(_ what: String, _ text: String) -> String {
        switch what {
        case "not an object": "[]"
        case "trailing data": text + " {}"
        case "a missing member": text.replacingOccurrences(of: #""pushedAt":1780000009000,"#, with: "")
        case "an invalid digest": text.replacingOccurrences(of: "sha256:", with: "sha257:")
        case "an invalid tag": text.replacingOccurrences(of: #""v1""#, with: #""-v1""#)
        case "a fraction for an integer": text.replacingOccurrences(of: #""size":120"#, with: #""size":120.5"#)
        case "a number too large":
            text.replacingOccurrences(of: #""size":120"#, with: #""size":99999999999999999999"#)
        case "a string for a number": text.replacingOccurrences(of: #""size":120"#, with: #""size":"120""#)
        case "a tag on no image":
            // A repository's tag table (an image's own tags are an array) names a digest of no image.
            text.replacing(/("tags":\{"[^"]+":"sha256:)[0-9a-f]{64}/, maxReplacements: 1) {
                $0.1 + String(repeating: "f", count: 64)
            }
        default: String(text.dropLast(3))  // an unterminated text
        }
    }

    /// What `JSONDecoder` refused, the hand-written reader refuses too, with a reason.
    @Test(arguments: [
        "not an object", "trailing data", "a missing member", "an invalid digest", "an invalid tag",
        "a fraction for an integer", "a number too large", "a string for a number", "an unterminated text",
        "a tag on no image",
    ])
    func damagedStatesAreRefused(what: String) throws {
        let text = String(decoding: try StateCodec.encodeState(GoldenFixture.state), as: UTF8.self)
        let damaged = Self.damage(what, text)
        #expect(damaged != text, "the damage \(what) must change the text")
        #expect(throws: (any Error).self, "\(what)") { try StateCodec.decodeState(Array(damaged.utf8)) }
        #expect(throws: (any Error).self, "\(what)") {
            try StateReader.read(Array(damaged.utf8), parallelAbove: 0)
        }
        #expect(throws: (any Error).self, "\(what)") {
            try JSONDecoder().decode(RegistryState.self, from: Data(damaged.utf8))
        }
    }

    /// A tag holds its image's manifest (``TagTarget``), so a tag naming no image cannot be read; the
    /// reader says which.
    @Test func aTagOnNoImageIsRefusedByName() throws {
        let text = String(decoding: try StateCodec.encodeState(GoldenFixture.state), as: UTF8.self)
        let damaged = Self.damage("a tag on no image", text)
        do {
            _ = try StateReader.read(Array(damaged.utf8), parallelAbove: 0)
            Issue.record("a tag on no image was read")
        } catch {
            #expect("\(error)".contains("which its repository holds no image of"), "\(error)")
            #expect("\(error)".contains("sha256:" + String(repeating: "f", count: 64)), "\(error)")
        }
    }

    /// Work is cut into runs that cover every item once, in order, no more runs than threads or
    /// items, and none much longer than its share.
    @Test func runsForTheCoresCoverEveryItemInOrder() {
        for (lengths, threads) in [
            ([5], 4), ([1, 1, 1, 1, 1, 1, 1, 1], 2), ([100, 1, 1, 1, 1], 2), ([], 3), ([3, 3, 3], 8),
        ] {
            let runs = Parallel.runs(lengths, threads: threads)
            #expect(runs.flatMap { Array($0) } == Array(lengths.indices), "\(lengths)")
            #expect(
                runs.count <= max(1, min(threads, lengths.count)) && runs.allSatisfy { !$0.isEmpty || lengths.isEmpty })
            let share = lengths.reduce(0, +) / max(1, threads) + (lengths.max() ?? 0)
            #expect(runs.allSatisfy { $0.reduce(0) { $0 + lengths[$1] } <= share }, "\(lengths) \(runs)")
        }
        #expect(Parallel.runs([1, 1, 1, 1], threads: 2) == [0..<2, 2..<4])
        #expect(Parallel.perform(5) { $0 * $0 } == [0, 1, 4, 9, 16])
    }

    /// Many repositories read on two or more threads: the same state as one thread reads, and a
    /// damaged repository in any run is refused, whichever thread reads it.
    @Test func repositoriesReadOnEveryCoreAreTheRepositoriesReadOnOne() throws {
        var state = RegistryState()
        var sequence: UInt64 = 0
        func apply(_ command: Command, in scope: Scope = .default) throws {
            sequence += 1
            try state.apply(
                Envelope(
                    sequence: sequence, time: Timestamp(millisecondsSinceEpoch: Int64(sequence)), scope: scope,
                    command: command))
        }
        let other = Scope(account: AccountID("210987654321")!, region: Region("eu-west-1")!)
        for n in 0..<64 {
            let name = RepositoryName("spread/r\(n)")!
            for scope in [Scope.default, other] {
                try apply(.createRepository(name: name, settings: .init()), in: scope)
                for image in 0..<(n % 5) {
                    for command in TinyImages.commands(image, in: name) { try apply(command, in: scope) }
                }
            }
        }
        let written = try StateCodec.encodeState(state)
        let parallel = try StateReader.read(written, parallelAbove: 0)
        #expect(parallel == state)
        #expect(parallel == (try StateReader.read(written, parallelAbove: .max)))
        #expect(parallel.scopes[other]?.repositories.count == 64)
        // A damaged repository first, in the middle and last: refused, never half read.
        for name in ["spread/r0", "spread/r31", "spread/r63"] {
            var text = String(decoding: written, as: UTF8.self)
            let key = #""\#(name)":{"#
            let at = text.range(of: key)!.upperBound
            text.replaceSubrange(at..<at, with: #""extra":[1,"#)
            #expect(throws: (any Error).self, "\(name)") { try StateReader.read(Array(text.utf8), parallelAbove: 0) }
            var cut = String(decoding: written, as: UTF8.self)
            cut.replaceSubrange(cut.range(of: key)!, with: #""\#(name)":{"x":"\#(String(repeating: "y", count: 9))"#)
            #expect(throws: (any Error).self, "\(name)") { try StateReader.read(Array(cut.utf8), parallelAbove: 0) }
        }
    }

    @Test func invalidUTF8InAStringIsRefused() throws {
        var bytes = try StateCodec.encodeState(GoldenFixture.state)
        let at = bytes.firstRange(of: Array("team/app".utf8))!.lowerBound
        bytes[at] = 0xFF
        #expect(throws: (any Error).self) { try StateCodec.decodeState(bytes) }
    }

    /// Keys and strings are matched by their bytes when they are plain; spelled with escapes (as
    /// another writer may), they are decoded first and read the same.
    @Test func escapedKeysAndMediaTypesReadAsTheirPlainSpelling() throws {
        let state = GoldenFixture.state
        let plain = String(decoding: try StateCodec.encodeState(state), as: UTF8.self)
        #expect(plain.contains(#""mediaType":"application/vnd.oci.image.manifest.v1+json""#))
        let escaped =
            plain
            .replacingOccurrences(of: #""name":"#, with: #""na\u006de":"#)
            .replacingOccurrences(of: #""images":"#, with: #""\u0069mages":"#)
            .replacingOccurrences(
                of: #""application/vnd.oci.image.manifest.v1+json""#,
                with: #""application\/vnd.oci.image.manifest.v1\u002bjson""#
            )
            .replacingOccurrences(
                of: #""application/vnd.oci.image.layer.v1.tar+gzip""#,
                with: #""\u0061pplication/vnd.oci.image.layer.v1.tar+gzip""#)
        #expect(escaped != plain)
        #expect(try StateReader.read(Array(escaped.utf8), parallelAbove: 0) == state)
        #expect(try StateReader.read(Array(escaped.utf8)) == state)
        // A key that only looks like a known one is not taken for it.
        let wrong = plain.replacingOccurrences(of: #""images":"#, with: #""image\u0073x":"#)
        #expect(throws: (any Error).self) { try StateReader.read(Array(wrong.utf8), parallelAbove: 0) }
    }

    /// Whitespace and members in another order (what another writer could produce) read the same.
    @Test func membersInAnyOrderAndWhitespaceReadTheSame() throws {
        let state = GoldenFixture.state
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted]
        let pretty = try encoder.encode(state)
        #expect(try StateCodec.decodeState(Array(pretty)) == state)
    }
}
