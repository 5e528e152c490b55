import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport
import Testing

@testable import StowageStorage

/// Rewinds, imports and looking into the past, and that all of them replay exactly.
struct HistoryTests {
    /// The registry's content, without the log position (what a rewind or import restores).
    static func content(_ state: RegistryState) -> TreeDictionary<Scope, ScopeState> {
        var scopes = state.scopes
        for key in Array(scopes.keys) { scopes[key]!.uploads = [:] }
        return scopes
    }

    @Test(arguments: EngineTests.locations)
    func rewindingToACheckpointOrASequenceRestoresThatStateAndReplaysAfterARestart(kind: String) async throws {
        let directory = TemporaryDirectory()
        let location = EngineTests.location(kind, directory)
        // Snapshots every 23 records, all kept (with the log since the first): record 30 stays
        // in the history however fast the snapshots are written.
        let store = try EngineFixture.open(location, snapshotEvery: 23, snapshotsKept: 20)
        let early = try await EngineFixture.drive(store, seed: 41, count: 60)
        try await store.submit(.checkpoint(name: CheckpointName("base")!))
        let atCheckpoint = store.state
        try await EngineFixture.drive(store, seed: 42, count: 80)
        let beforeRewind = store.sequence

        let toCheckpoint = try await store.rewind(to: .checkpoint(CheckpointName("base")!))
        #expect(Self.content(store.state) == Self.content(atCheckpoint))
        #expect(store.state.checkpoints[CheckpointName("base")!]?.sequence == 61)
        #expect(toCheckpoint.sequence == beforeRewind + 1)

        try await EngineFixture.drive(store, seed: 43, count: 40)
        try await store.rewind(to: .sequence(30))
        #expect(Self.content(store.state) == Self.content(early[29]))
        #expect(Self.content(try await store.state(at: 30)) == Self.content(early[29]))
        try await EngineFixture.drive(store, seed: 44, count: 30)
        let final = store.state
        await store.quiesce()
        if kind == "directory" {
            let reopened = try EngineFixture.open(location)
            #expect(reopened.state == final)
            // Even from the older snapshot (the newest set aside), the rewinds replay.
            let snaps = POSIX.list(directory.path + "/snap").filter { $0.hasSuffix(".snap") }
            try EngineFixture.flip(byteAt: 60, in: directory.path + "/snap/" + snaps.last!)
            let fallback = try EngineFixture.open(location)
            #expect(fallback.state == final)
        }
    }

    /// A checkpoint's state is written in the background (at a million images it takes seconds):
    /// the checkpoint is usable at once, no snapshot is written past it until its point is stored,
    /// and a restart before then rebuilds the point from the log.
    @Test func aCheckpointIsUsableBeforeItsPointIsStoredAndNoSnapshotPassesItUntilThen() async throws {
        let directory = TemporaryDirectory()
        let pointsPath = directory.path + "/snap/points"
        let store = try EngineFixture.open(.directory(directory.path))
        try await EngineFixture.drive(store, seed: 51, count: 40)
        let first = try await store.compact().sequence
        // Points cannot be written: a file where their directory was.
        try FileManager.default.removeItem(atPath: pointsPath)
        #expect(FileManager.default.createFile(atPath: pointsPath, contents: Data()))

        let name = CheckpointName("base")!
        let checkpoint = try await store.submit(.checkpoint(name: name))
        let atCheckpoint = Self.content(store.state)
        try await EngineFixture.drive(store, seed: 52, count: 30)
        try await store.rewind(to: .checkpoint(name))
        #expect(Self.content(store.state) == atCheckpoint)
        await #expect(throws: (any Error).self) { try await store.compact() }
        #expect(
            try SnapshotFormat.decode(try FileSnapshotStore(directory: directory.path + "/snap").read(first)).sequence
                == first)
        #expect(try FileSnapshotStore(directory: directory.path + "/snap").sequences().max() == first)
        try await EngineFixture.drive(store, seed: 53, count: 20)
        let final = store.state

        // A restart now (the point never stored) replays the checkpoint's record and stores it.
        try FileManager.default.removeItem(atPath: pointsPath)
        let restarted = try EngineFixture.open(.directory(directory.path))
        #expect(restarted.state == final)
        #expect(try FileSnapshotStore(directory: pointsPath).sequences().contains(checkpoint.sequence))
        try await restarted.rewind(to: .checkpoint(name))
        #expect(Self.content(restarted.state) == atCheckpoint)

        // With its directory back, the first engine stores the point before its next snapshot.
        let second = try await store.compact()
        #expect(second.sequence > checkpoint.sequence)
        #expect(try FileSnapshotStore(directory: pointsPath).sequences().contains(checkpoint.sequence))
    }

    /// A point past the log's end is of a record a crash took back (a power cut after a
    /// checkpoint's point was written beside its record, before the record was durable): a
    /// restart removes it, and the record that reuses its sequence stores its own.
    @Test func aPointPastTheEndOfTheLogIsRemovedAtARestart() async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(.directory(directory.path))
        try await EngineFixture.drive(store, seed: 61, count: 30)
        let name = CheckpointName("early")!
        let early = try await store.submit(.checkpoint(name: name))
        try await EngineFixture.drive(store, seed: 62, count: 30)
        await store.quiesce()
        let points = try FileSnapshotStore(directory: directory.path + "/snap/points")
        let stale = store.sequence + 1
        try points.write(try points.read(early.sequence), sequence: stale)

        let restarted = try EngineFixture.open(.directory(directory.path))
        #expect(!points.sequences().contains(stale))
        let later = try await restarted.submit(.checkpoint(name: CheckpointName("later")!))
        #expect(later.sequence == stale)
        let atLater = Self.content(restarted.state)
        await restarted.quiesce()
        let again = try EngineFixture.open(.directory(directory.path))
        try await EngineFixture.drive(again, seed: 63, count: 10)
        try await again.rewind(to: .checkpoint(CheckpointName("later")!))
        #expect(Self.content(again.state) == atLater)
    }

    @Test func theStateAtAnyRecordMatchesWhatWasFoldedThen() async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(.directory(directory.path), snapshotEvery: 17)
        let states = try await EngineFixture.drive(store, seed: 45, count: 120)
        await store.quiesce()
        let first = await store.storageFacts().firstSequence
        for sequence in stride(from: Int(max(first, 1)), through: 120, by: 7) {
            #expect(try await store.state(at: UInt64(sequence)) == states[sequence - 1], "at \(sequence)")
        }
        if first > 2 {
            await #expect(throws: RegistryStore.HistoryError.self) { try await store.state(at: 1) }
        }
        await #expect(throws: RegistryStore.HistoryError.self) { try await store.state(at: 500) }
    }

    @Test func aRewindToARecordWhoseBlobsWereCollectedIsRefused() async throws {
        let store = try EngineFixture.open(.memory)
        let name = RepositoryName("gc/rewind")!
        let digest = ContentDigester.digest(Array("blob".utf8))
        try await store.submit(.createRepository(name: name, settings: .init()))
        try store.content.writeBlob(digest, Array("blob".utf8))
        try await store.submit(.putBlob(repository: name, digest: digest, size: 4))
        try await store.submit(.deleteBlobLink(repository: name, digest: digest))
        await store.collectGarbage()
        await #expect(throws: RegistryStore.HistoryError.self) { try await store.rewind(to: .sequence(2)) }
        // A checkpoint keeps its blobs from the collector.
        let kept = ContentDigester.digest(Array("kept".utf8))
        try store.content.writeBlob(kept, Array("kept".utf8))
        try await store.submit(.putBlob(repository: name, digest: kept, size: 4))
        try await store.submit(.checkpoint(name: CheckpointName("keep")!))
        try await store.submit(.deleteBlobLink(repository: name, digest: kept))
        await store.collectGarbage()
        #expect(store.content.blobSize(kept) == 4)
        try await store.rewind(to: .checkpoint(CheckpointName("keep")!))
        #expect(store.state[.default].repositories[name]!.blobs[kept] == 4)
    }

    @Test func anImportReplacesTheContentAsOneCommandThatReplays() async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(.directory(directory.path))
        try await EngineFixture.drive(store, seed: 46, count: 50)
        let imported = GoldenFixture.state
        let envelope = try await store.restore(imported: imported, bytes: 1234)
        #expect(Self.content(store.state) == Self.content(imported))
        #expect(store.state.sequence == envelope.sequence)
        let reopened = try EngineFixture.open(.directory(directory.path))
        #expect(reopened.state == store.state)
    }
}

struct ExportFormatTests {
    static func sample() -> (RegistryState, [Digest: [UInt8]]) {
        let name = RepositoryName("export/app")!
        let config = Array(#"{"os":"linux"}"#.utf8)
        let layer = Array("layer bytes".utf8)
        let configDigest = ContentDigester.digest(config)
        let layerDigest = ContentDigester.digest(layer)
        let content = #"{"schemaVersion":2,"config":"\#(configDigest)","layers":["\#(layerDigest)"]}"#
        let manifest = Manifest(
            digest: ContentDigester.digest(Array(content.utf8)),
            mediaType: "application/vnd.oci.image.manifest.v1+json", content: content,
            references: ManifestReferences(
                config: Descriptor(
                    mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest,
                    size: Int64(config.count)),
                layers: [
                    Descriptor(
                        mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest,
                        size: Int64(layer.count))
                ]))
        var state = RegistryState()
        for (i, command) in [
            Command.createRepository(name: name, settings: .init(tagMutability: .immutable)),
            .putBlob(repository: name, digest: configDigest, size: Int64(config.count)),
            .putBlob(repository: name, digest: layerDigest, size: Int64(layer.count)),
            .putManifest(repository: name, manifest: manifest, tag: Tag("v1")!),
            .startUpload(id: UploadID("not-exported")!, repository: name),
            .checkpoint(name: CheckpointName("not-exported")!),
        ].enumerated() {
            try! state.apply(
                Envelope(
                    sequence: UInt64(i + 1), time: Timestamp(millisecondsSinceEpoch: 1_780_000_000_000 + Int64(i)),
                    command: command))
        }
        return (state, [configDigest: config, layerDigest: layer])
    }

    @Test func anExportDecodesToTheSameContentAndTheSameContentEncodesToTheSameBytes() throws {
        let (state, blobs) = Self.sample()
        let bytes = try ExportFormat.encode(state, blobs: blobs)
        let contents = try ExportFormat.decode(bytes, limit: 1 << 20)
        #expect(contents.includesBlobs && contents.blobs == blobs)
        #expect(contents.state == ExportFormat.exportable(state))
        #expect(contents.state.checkpoints.isEmpty && contents.state.counts.uploads == 0)
        // Same content, elsewhere in history: same bytes.
        var later = contents.state
        later.sequence = 999
        later.time = Timestamp(millisecondsSinceEpoch: 5)
        #expect(try ExportFormat.encode(later, blobs: blobs) == bytes)
    }

    @Test func damagedTruncatedWrongVersionAndBombFilesAreRefusedWithTheReason() throws {
        let (state, blobs) = Self.sample()
        let bytes = try ExportFormat.encode(state, blobs: blobs)
        func reason(_ file: [UInt8], limit: Int = 1 << 20) -> String {
            do {
                _ = try ExportFormat.decode(file, limit: limit)
                return "accepted"
            } catch { return error.description }
        }
        #expect(reason(Array("hello".utf8)).contains("not a Stowage export"))
        for cut in [10, 40, bytes.count - 1] { #expect(reason(Array(bytes.prefix(cut))) != "accepted") }
        var flipped = bytes
        flipped[bytes.count - 5] ^= 1
        #expect(reason(flipped).contains("checksum"))
        var version = bytes
        version[8] = 9
        #expect(reason(version).contains("checksum") || reason(version).contains("version"))
        #expect(reason(bytes, limit: 10).contains("limit"))
        // A bomb: a small file that claims (and inflates to) far more than the limit.
        var bomb = ExportFormat.magic
        let payload = Zlib.compress([UInt8](repeating: 0, count: 50 << 20), level: 9)
        for value in [UInt32(1), 1] { withUnsafeBytes(of: value.littleEndian) { bomb += $0 } }
        withUnsafeBytes(of: UInt64(50 << 20).littleEndian) { bomb += $0 }
        withUnsafeBytes(of: payload.withUnsafeBytes { Zlib.crc32($0) }.littleEndian) { bomb += $0 }
        let headerCRC = bomb.withUnsafeBytes { Zlib.crc32($0) }
        withUnsafeBytes(of: headerCRC.littleEndian) { bomb += $0 }
        bomb += payload
        #expect(bomb.count < 100_000)
        #expect(reason(bomb, limit: 1 << 20).contains("limit"))
        // A blob whose bytes do not match its digest.
        var lying = blobs
        lying[lying.keys.first!] = Array("tampered".utf8)
        #expect(reason(try ExportFormat.encode(state, blobs: lying)).contains("do not have that digest"))
        // Blobs missing from a file that claims to include them.
        var partial = blobs
        partial.removeValue(forKey: partial.keys.sorted().first!)
        #expect(reason(try ExportFormat.encode(state, blobs: partial)).contains("does not hold"))
    }

    /// The golden export of format v1: every later Stowage must still import it.
    /// Re-record with `STOWAGE_RECORD=1` (the recording run fails, so that a person looks).
    @Test func theGoldenExportOfFormatVersion1StillImports() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/export-v1.stowage"
        ).path
        let (state, blobs) = Self.sample()
        if ProcessInfo.processInfo.environment["STOWAGE_RECORD"] == "1" {
            try Data(try ExportFormat.encode(state, blobs: blobs)).write(to: URL(fileURLWithPath: path))
            Issue.record("recorded \(path); run again without STOWAGE_RECORD to check it")
            return
        }
        let golden = try POSIX.readFile(path)
        let contents = try ExportFormat.decode(golden, limit: 1 << 20)
        #expect(contents.state == ExportFormat.exportable(state))
        #expect(contents.blobs == blobs)
        #expect(try ExportFormat.encode(contents.state, blobs: contents.blobs) == golden)
    }
}
