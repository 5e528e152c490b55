import Foundation
import StowageCore
import StowageTestSupport
import Testing

@testable import StowageStorage

/// Recordings (`GET /_admin/export?history=true`, `stowage serve --replay`): the format, what it
/// refuses, and an engine that replays one read-only.
struct RecordingTests {
    static var goldenPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/recording-v1.stowage"
        ).path
    }

    /// The golden log as a recording, with two real blobs.
    static func sample() throws -> (recording: Recording, end: RegistryState) {
        let (records, end, points) = try GoldenLog.fold()
        let blobs = Dictionary(
            uniqueKeysWithValues: ["first blob", "second blob"].map { text in
                let bytes = Array(text.utf8)
                return (ContentDigester.digest(bytes, .sha256), bytes)
            })
        return (Recording(baseSequence: 0, base: RegistryState(), points: points, records: records, blobs: blobs), end)
    }

    /// The golden recording of format v1: every later Stowage must still replay it.
    /// Re-record with `STOWAGE_RECORD=1` (the recording run fails, so that a person looks).
    @Test func theGoldenRecordingOfFormatVersion1StillReplays() async throws {
        let (recording, end) = try Self.sample()
        if ProcessInfo.processInfo.environment["STOWAGE_RECORD"] == "1" {
            try Data(try RecordingFormat.encode(recording)).write(to: URL(fileURLWithPath: Self.goldenPath))
            Issue.record("recorded \(Self.goldenPath); run again without STOWAGE_RECORD to check it")
            return
        }
        let golden = try POSIX.readFile(Self.goldenPath)
        let decoded = try RecordingFormat.decode(golden, limit: 1 << 24)
        #expect(decoded.records == recording.records)
        #expect(decoded.base == recording.base && decoded.points == recording.points)
        #expect(decoded.blobs == recording.blobs)
        #expect(try RecordingFormat.encode(decoded) == golden)
        // An engine replaying it ends where the log ended, and refuses every write.
        var configuration = EngineConfiguration(location: .memory, fsync: .never)
        configuration.replaying = decoded
        let store = try RegistryStore(configuration: configuration, clock: ManualClock())
        #expect(store.state == end)
        #expect(store.sequence == decoded.lastSequence)
        await #expect(throws: StoreReadOnly.self) {
            try await store.submit(.createRepository(name: RepositoryName("new/one")!, settings: .init()))
        }
        await #expect(throws: StoreReadOnly.self) {
            try await store.recordRefusal(
                .refuseRequest(upload: nil, repository: nil, request: "PUT"), because: .invalidRequest("x"))
        }
        await #expect(throws: StoreReadOnly.self) { try await store.compact() }
        #expect(store.sequence == decoded.lastSequence, "nothing was logged")
        // Its view moves to any point, and every reader sees that point.
        let middle = decoded.lastSequence / 2
        let expected = try await store.state(at: middle)
        try await store.show(middle)
        #expect(store.state == expected && store.sequence == middle)
        #expect(await store.end.sequence == decoded.lastSequence)
        // Blobs stay: a replay collects nothing.
        #expect(await store.collectGarbage() == 0)
        #expect(recording.blobs.keys.allSatisfy { store.content.blobSize($0) != nil })
    }

    @Test func aLiveEngineRecordsItsHistoryAndALiveViewDoesNotMove() async throws {
        let store = try EngineFixture.open(.memory)
        let states = try await EngineFixture.drive(store, seed: 7, count: 200)
        _ = try await store.submit(.checkpoint(name: CheckpointName("half")!))
        let recording = try await store.recording()
        #expect(recording.baseSequence == 0 && recording.records.count == 201)
        let since = try await store.recording(since: 100)
        #expect(since.baseSequence == 100 && since.base == states[99] && since.records.first?.sequence == 101)
        let decoded = try RecordingFormat.decode(try RecordingFormat.encode(since), limit: 1 << 26)
        #expect(decoded.records == since.records)
        await #expect(throws: RegistryStore.HistoryError.self) { try await store.show(10) }
    }

    @Test func damagedGappedAndInconsistentRecordingsAreRefusedWithTheReason() throws {
        let (recording, _) = try Self.sample()
        let bytes = try RecordingFormat.encode(recording)
        func reason(_ file: [UInt8], limit: Int = 1 << 24) -> String {
            do {
                _ = try RecordingFormat.decode(file, limit: limit)
                return "accepted"
            } catch { return error.description }
        }
        #expect(reason(bytes) == "accepted")
        #expect(reason(Array("hello".utf8)).contains("not a Stowage recording"))
        #expect(reason(try ExportFormat.encode(RegistryState(), blobs: [:])).contains("STOWRCRD"))
        for cut in [10, 40, bytes.count - 1] { #expect(reason(Array(bytes.prefix(cut))) != "accepted") }
        var flipped = bytes
        flipped[bytes.count - 5] ^= 1
        #expect(reason(flipped).contains("checksum"))
        #expect(reason(bytes, limit: 100).contains("limit"))
        var gap = recording
        gap.records.remove(at: 3)
        #expect(reason(try RecordingFormat.encode(gap)).contains("gap"))
        var inconsistent = recording
        inconsistent.records.removeFirst()  // the repository is never created
        inconsistent.baseSequence = 1
        #expect(reason(try RecordingFormat.encode(inconsistent)).contains("does not apply"))
        var lying = recording
        lying.blobs[lying.blobs.keys.first!] = Array("tampered".utf8)
        #expect(reason(try RecordingFormat.encode(lying)).contains("do not have that digest"))
    }
}
