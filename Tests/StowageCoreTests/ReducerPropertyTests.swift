import Foundation
import StowageTestSupport
import Testing

@testable import StowageCore

/// Properties over random command sequences, each from a fixed seed so a failure replays exactly.
struct ReducerPropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 2026, 0xDEAD_BEEF]

    @Test(arguments: seeds)
    func foldingTheSameCommandsTwiceGivesTheSameState(seed: UInt64) {
        let first = CommandGenerator.history(seed: seed, count: 600)
        let second = CommandGenerator.history(seed: seed, count: 600)
        #expect(first.last!.state == second.last!.state)
        #expect(first.map(\.envelope) == second.map(\.envelope))
    }

    @Test(arguments: seeds)
    func invariantsHoldAfterEveryCommandAndRefusalsChangeNothing(seed: UInt64) {
        var previous = RegistryState()
        var refused = 0
        for step in CommandGenerator.history(seed: seed, count: 600) {
            #expect(step.state._checkInvariants() == [], "after \(step.envelope.sequence): \(step.envelope.command)")
            if step.refusal != nil {
                refused += 1
                #expect(step.state == previous)
            }
            previous = step.state
        }
        // The generator must exercise both paths to mean anything.
        #expect(refused > 30 && refused < 450)
    }

    @Test(arguments: seeds)
    func encodingThenDecodingGivesTheSameStateAndTheSameBytes(seed: UInt64) throws {
        let state = CommandGenerator.history(seed: seed, count: 400).last!.state
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = try encoder.encode(state)
        let decoded = try JSONDecoder().decode(RegistryState.self, from: bytes)
        #expect(decoded == state)
        #expect(try encoder.encode(decoded) == bytes)
    }

    @Test func theGeneratorReachesEveryKindOfCommand() {
        let kinds = Set(CommandGenerator.history(seed: 7, count: 3000).map(\.envelope.command.kind))
        // Every kind but restore, which needs stored points (covered by ReducerTests, the engine
        // tests and the golden log).
        #expect(kinds == Set(Command.kinds).subtracting(["restore"]))
    }
}

struct PurityTests {
    /// StowageCore must import nothing but swift-collections: no Foundation, no I/O, no clock.
    @Test func coreSourcesImportOnlyPersistentCollections() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Sources/StowageCore"
        ).standardized
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" }
        #expect(files.count > 10)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n")
            where line.trimmingCharacters(in: .whitespaces).range(
                of: #"^(public |internal |@testable )?import "#, options: .regularExpression) != nil
            {
                #expect(line.hasSuffix("import HashTreeCollections"), "\(file.lastPathComponent): \(line)")
            }
        }
    }
}
