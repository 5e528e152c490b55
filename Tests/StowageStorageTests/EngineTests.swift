import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport
import Synchronization
import Testing

@testable import StowageStorage

struct EngineTests {
    static let locations: [String] = ["memory", "directory"]

    static func location(_ kind: String, _ directory: TemporaryDirectory) -> StorageLocation {
        kind == "memory" ? .memory : .directory(directory.path)
    }

    /// Commands submitted together wait for one fsync; what was applied before a refusal is
    /// durable and visible when the refusal is thrown, and survives a restart.
    @Test func commandsSubmittedTogetherAreAllDurableOrStopAtTheRefusal() async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(.directory(directory.path), fsync: .always)
        let a = RepositoryName("batch/a")!
        let b = RepositoryName("batch/b")!
        let envelopes = try await store.submit([
            .createRepository(name: a, settings: .init()), .createRepository(name: b, settings: .init()),
        ])
        #expect(envelopes.map(\.sequence) == [1, 2])
        #expect(store.sequence == 2)
        let c = RepositoryName("batch/c")!
        await #expect(throws: RegistryError.repositoryAlreadyExists(a)) {
            try await store.submit([
                .createRepository(name: c, settings: .init()), .createRepository(name: a, settings: .init()),
            ])
        }
        #expect(store.state[.default].repositories[c] != nil, "applied before the refusal, and published")
        #expect(store.sequence == 4)
        let reopened = try EngineFixture.open(.directory(directory.path))
        #expect(reopened.state == store.state)
    }

    @Test func concurrentWritersShareFsyncsAndEveryAcknowledgedWriteIsThere() async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(.directory(directory.path), fsync: .always)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    try await store.submit(.createRepository(name: RepositoryName("w/r\(i)")!, settings: .init()))
                }
            }
            try await group.waitForAll()
        }
        #expect(store.sequence == 64)
        #expect(store.state[.default].repositories.count == 64)
        let reopened = try EngineFixture.open(.directory(directory.path))
        #expect(reopened.state == store.state)
        let sequences = try await reopened.records(after: 0).map(\.sequence)
        #expect(sequences == Array(1...64))
    }

    @Test(arguments: locations)
    func refusalsAreLoggedWithTheirReasonButChangeNothing(kind: String) async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(Self.location(kind, directory))
        let name = RepositoryName("app")!
        try await store.submit(.createRepository(name: name, settings: .init()))
        let before = store.state
        await #expect(throws: RegistryError.repositoryAlreadyExists(name)) {
            try await store.submit(.createRepository(name: name, settings: .init()))
        }
        #expect(store.state == before)
        let records = try await store.records(after: 0)
        #expect(records.map(\.sequence) == [1, 2])
        #expect(records[1].refusal == .repositoryAlreadyExists(name))
        if kind == "directory" {
            let reopened = try EngineFixture.open(Self.location(kind, directory))
            #expect(reopened.state == before)
            #expect(reopened.sequence == 2)
        }
    }

    @Test func theMemoryAndFileEnginesAgreeRecordForRecord() async throws {
        let directory = TemporaryDirectory()
        // Snapshots every 40 records, all kept, so both logs still hold everything after record
        // 200 however far the snapshots have got.
        let memory = try EngineFixture.open(.memory, snapshotEvery: 40, snapshotsKept: 20)
        let file = try EngineFixture.open(.directory(directory.path), snapshotEvery: 40, snapshotsKept: 20)
        let a = try await EngineFixture.drive(memory, seed: 31, count: 250)
        let b = try await EngineFixture.drive(file, seed: 31, count: 250)
        #expect(a == b)
        await memory.quiesce()
        await file.quiesce()
        let tailA = try await memory.records(after: 200)
        let tailB = try await file.records(after: 200)
        #expect(tailA == tailB)
        #expect(UInt64(tailA.count) == memory.sequence - 200 && memory.sequence == file.sequence)
    }

    @Test(arguments: locations)
    func garbageCollectionRemovesOnlyUnreferencedUnpinnedBlobs(kind: String) async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(Self.location(kind, directory))
        let name = RepositoryName("gc/app")!
        let kept = ContentDigester.digest(Array("kept".utf8))
        let dropped = ContentDigester.digest(Array("dropped".utf8))
        let pinned = ContentDigester.digest(Array("pinned".utf8))
        try await store.submit(.createRepository(name: name, settings: .init()))
        for (digest, text) in [(kept, "kept"), (dropped, "dropped"), (pinned, "pinned")] {
            try store.content.writeBlob(digest, Array(text.utf8))
        }
        try await store.submit(.putBlob(repository: name, digest: kept, size: 4))
        try await store.submit(.putBlob(repository: name, digest: dropped, size: 7))
        try await store.submit(.deleteBlobLink(repository: name, digest: dropped))
        await store.pin([pinned])
        #expect(await store.collectGarbage() == 1)
        #expect(Set(store.content.blobDigests()) == [kept, pinned])
        await store.unpin([pinned])
        #expect(await store.collectGarbage() == 1)
        #expect(store.content.blobDigests() == [kept])
    }

    /// A garbage collection pass gathers what is linked off the writer: a write submitted while
    /// a pass over 200,000 links is under way is done before the pass is (the writer used to
    /// gather them itself, and every write waited for it: a second at a million images).
    @Test func aWriteDoesNotWaitForAGarbageCollectionPass() async throws {
        let store = try EngineFixture.open(.memory)
        let name = RepositoryName("gc/large")!
        var repository = Repository(name: name, createdAt: Timestamp(millisecondsSinceEpoch: 0), settings: .init())
        repository.blobs = TreeDictionary(
            uniqueKeysWithValues: (0..<200_000).map { n in
                let hex = String(n, radix: 16)
                return (Digest("sha256:" + String(repeating: "0", count: 64 - hex.count) + hex)!, Int64(1))
            })
        var state = RegistryState()
        state.scopes[.default] = ScopeState()
        state.scopes[.default]!.repositories[name] = repository
        _ = try await store.restore(imported: state, bytes: 0)
        let garbage = ContentDigester.digest(Array("garbage".utf8))
        try store.content.writeBlob(garbage, Array("garbage".utf8))
        #expect(await store.garbageMayExist)
        let finished = Mutex(false)
        let pass = Task {
            let removed = await store.collectGarbage()
            finished.withLock { $0 = true }
            return removed
        }
        while await store.garbageMayExist { await Task.yield() }  // the pass has begun
        try await store.submit(.createRepository(name: RepositoryName("gc/during")!, settings: .init()))
        #expect(!finished.withLock { $0 }, "the write waited for the whole pass")
        #expect(await pass.value == 1)
        #expect(store.content.blobDigests().isEmpty)
    }
}

extension EngineTests {
    /// One engine per data directory: a second one refuses, naming the directory and the holder;
    /// once the first is gone, the directory opens again with everything in it.
    @Test func aSecondEngineOnADataDirectoryIsRefusedUntilTheFirstIsGone() async throws {
        let directory = TemporaryDirectory()
        var first: RegistryStore? = try EngineFixture.open(.directory(directory.path), locking: true)
        try await first!.submit(.createRepository(name: RepositoryName("locked/app")!, settings: .init()))
        #expect {
            _ = try EngineFixture.open(.directory(directory.path), locking: true)
        } throws: { error in
            guard let locked = error as? DirectoryLocked else { return false }
            return locked.directory == directory.path && locked.holder == getpid()
                && locked.description.contains("in use by another Stowage (pid \(getpid()))")
        }
        await first!.quiesce()
        first = nil
        let again = try EngineFixture.open(.directory(directory.path), locking: true)
        #expect(again.state[.default].repositories.count == 1)
    }

    /// A push to a repository that scans on push is followed by its scan, logged with the record
    /// it follows; a restart replays both and runs nothing again.
    @Test(arguments: locations)
    func reactionsAreLoggedOnceWithTheirCauseAndNeverRunOnReplay(kind: String) async throws {
        let directory = TemporaryDirectory()
        let store = try EngineFixture.open(Self.location(kind, directory), fsync: .always)
        let name = RepositoryName("scanned/app")!
        let config = ContentDigester.digest(Array("{}".utf8))
        let manifest = Manifest(
            digest: ContentDigester.digest(Array("m".utf8)), mediaType: ManifestMediaType.ociManifest, content: "m",
            references: ManifestReferences(
                config: Descriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 2)))
        try await store.submit([
            .createRepository(name: name, settings: RepositorySettings(scanOnPush: true)),
            .putBlob(repository: name, digest: config, size: 2),
        ])
        let push = try await store.submit(.putManifest(repository: name, manifest: manifest, tag: Tag("v1")))
        let records = try await store.records(after: push.sequence)
        #expect(records.map(\.envelope.command.kind) == ["recordImageScan"])
        #expect(records[0].cause == RecordCause(trigger: push.sequence, reaction: .scanOnPush))
        #expect(store.state[.default].repositories[name]?.images[manifest.digest]?.scan != nil)
        if kind == "directory" {
            let reopened = try EngineFixture.open(Self.location(kind, directory))
            #expect(reopened.state == store.state && reopened.sequence == store.sequence)
        }
    }
}

struct ContentStoreConformanceTests {
    static func make(_ kind: String, _ directory: TemporaryDirectory) throws -> any ContentStore {
        kind == "memory" ? InMemoryContentStore() : try FileContentStore(directory: directory.path)
    }

    @Test(arguments: EngineTests.locations)
    func spoolsBecomeBlobsThatReadBackByteForByte(kind: String) throws {
        let directory = TemporaryDirectory()
        let store = try Self.make(kind, directory)
        let id = UploadID("u1")!
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try store.createSpool(id)
        let writer = try store.openSpool(id)
        try bytes.withUnsafeBytes { all in
            try writer.write(UnsafeRawBufferPointer(rebasing: all[0..<40_000]), at: 0)
            try writer.write(UnsafeRawBufferPointer(rebasing: all[40_000...]), at: 40_000)
        }
        writer.close()
        var head = [UInt8](repeating: 0, count: 10)
        #expect(try head.withUnsafeMutableBytes { try store.readSpool(id, at: 5, into: $0) } == 10)
        #expect(head == Array(bytes[5..<15]))
        let digest = ContentDigester.digest(bytes)
        try store.storeSpool(id, size: Int64(bytes.count), as: digest)
        store.removeSpool(id)
        #expect(store.spoolIDs().isEmpty)
        #expect(store.blobSize(digest) == Int64(bytes.count))
        let reader = try store.openBlob(digest)
        var back = [UInt8](repeating: 0, count: bytes.count + 10)
        #expect(try back.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) } == bytes.count)
        #expect(Array(back.prefix(bytes.count)) == bytes)
        #expect(store.blobDigests() == [digest])
        store.removeBlob(digest)
        #expect(store.blobSize(digest) == nil)
        #expect(throws: (any Error).self) { try store.openBlob(digest) }
    }

    @Test(arguments: EngineTests.locations)
    func truncatingASpoolDropsItsTail(kind: String) throws {
        let directory = TemporaryDirectory()
        let store = try Self.make(kind, directory)
        let id = UploadID("u2")!
        try store.createSpool(id)
        try [UInt8](repeating: 1, count: 50).withUnsafeBytes { try store.openSpool(id).write($0, at: 0) }
        try store.truncateSpool(id, to: 20)
        var buffer = [UInt8](repeating: 0, count: 50)
        #expect(try buffer.withUnsafeMutableBytes { try store.readSpool(id, at: 0, into: $0) } == 20)
        store.removeSpool(id)
        #expect(store.spoolIDs().isEmpty)
    }

    @Test func digestsMatchKnownValues() {
        #expect(
            ContentDigester.digest([UInt8]()).rawValue
                == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentDigester.digest(Array("abc".utf8), .sha512).rawValue.hasPrefix("sha512:ddaf35a193617aba"))
    }
}
