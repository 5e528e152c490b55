import Foundation
import StowageCore
import StowageTestSupport
import Testing

@testable import StowageStorage

struct GoldenLogTests {
    static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/log-v1").path
    }

    /// The golden log of format v1 (every command, setting change and refusal reason) still replays
    /// into the state it folded to, and its records decode and encode to the very same bytes.
    /// Re-record with `STOWAGE_RECORD=1` (the recording run fails, so that a person looks).
    @Test func theGoldenLogOfFormatVersion1StillReplays() async throws {
        let (records, expected, points) = try GoldenLog.fold()
        let wal = Self.directory + "/wal/0000000000000001.wal"
        if ProcessInfo.processInfo.environment["STOWAGE_RECORD"] == "1" {
            try? FileManager.default.removeItem(atPath: Self.directory)
            try POSIX.makeDirectories(Self.directory + "/wal")
            var segment: [UInt8] = []
            for record in records { RecordFraming.appendFrame(try StateCodec.encode(record), to: &segment) }
            try Data(segment).write(to: URL(fileURLWithPath: wal))
            let store = try FileSnapshotStore(directory: Self.directory + "/snap/points")
            for (sequence, state) in points
            where !records.contains(where: { $0.sequence == sequence && $0.envelope.command.kind == "checkpoint" }) {
                try store.write(try SnapshotFormat.encode(state, sequence: sequence), sequence: sequence)
            }
            Issue.record("recorded \(Self.directory); run again without STOWAGE_RECORD to check it")
            return
        }
        // Everything the file must exercise is in it.
        #expect(Set(records.map(\.envelope.command.kind)) == Set(Command.kinds))
        let changes = records.compactMap { record -> String? in
            guard case .changeRegistrySettings(let change) = record.envelope.command else { return nil }
            return Mirror(reflecting: change).children.first?.label
        }
        #expect(changes.count == 16 && Set(changes).count == 16, "every RegistrySettingChange case once")
        let reasons = Set(records.compactMap { $0.refusal.flatMap { Mirror(reflecting: $0).children.first?.label } })
        #expect(reasons.count == 29, "every RegistryError case")

        let golden = try POSIX.readFile(wal)
        let payloads = RecordFraming.scan(golden).frames.map(\.payload)
        #expect(try payloads.map { try StateCodec.decode(LogRecord.self, from: $0) } == records)
        #expect(try records.map { try StateCodec.encode($0) } == payloads.map(Array.init))
        // Replayed by a real start-up, from a copy of the directory.
        let copy = TemporaryDirectory()
        try FileManager.default.removeItem(atPath: copy.path)
        try FileManager.default.copyItem(atPath: Self.directory, toPath: copy.path)
        let store = try EngineFixture.open(.directory(copy.path))
        #expect(store.state == expected)
        #expect(store.sequence == UInt64(records.count))
        #expect(store.state._checkInvariants() == [])
    }
}
