import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport
import Synchronization
import Testing

@testable import StowageStorage

/// The upload and blob-ingest protocol, on the memory and the file engine.
struct IngestTests {
    /// How many passes a collector running beside a test has made.
    final class Passes: Sendable { let count = Mutex(0) }

    static let locations = EngineTests.locations
    static let app = RepositoryName("ingest/app")!

    static func open(_ kind: String, _ directory: TemporaryDirectory) async throws -> (RegistryStore, Ingest) {
        let store = try EngineFixture.open(EngineTests.location(kind, directory), fsync: .always)
        if store.state[.default].repositories[app] == nil {
            try await store.submit(.createRepository(name: app, settings: .init()))
        }
        return (store, Ingest(store: store, ids: SequentialIDGenerator()))
    }

    static func bytes(_ seed: Int, count: Int = 1000) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed &* 131) }
    }

    /// Reads a stored blob whole.
    static func read(_ digest: Digest, from content: any ContentStore) throws -> [UInt8] {
        let reader = try content.openBlob(digest)
        defer { reader.close() }
        var bytes = [UInt8](repeating: 0, count: Int(reader.size))
        _ = try bytes.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        return bytes
    }

    /// Garbage collection running flat out while blobs arrive by every ingest path never removes
    /// a blob between the moment its bytes are stored and the moment its link is logged.
    @Test(arguments: locations)
    func garbageCollectionNeverRemovesABlobBetweenItsWriteAndItsLink(kind: String) async throws {
        let directory = TemporaryDirectory()
        let (store, ingest) = try await Self.open(kind, directory)
        let other = RepositoryName("ingest/other")!
        try await store.submit(.createRepository(name: other, settings: .init()))
        let passes = Passes()
        let collecting = Task {
            while !Task.isCancelled {
                await store.collectGarbage()
                passes.count.withLock { $0 += 1 }
                await Task.yield()
            }
        }
        // Waits for one more pass of the collector, so it runs before the first blob arrives and
        // during every round, however busy the machine (a write in memory never has to wait).
        func collectorMoves() async {
            let seen = passes.count.withLock { $0 }
            while passes.count.withLock({ $0 }) == seen { await Task.yield() }
        }
        await collectorMoves()
        var linked: [Digest] = []
        for round in 0..<40 {
            let content = Self.bytes(round)
            let digest = ContentDigester.digest(content)
            switch round % 4 {
            case 0:  // an upload in two chunks
                let id = try await ingest.begin(in: Self.app, scope: .default)
                _ = try await ingest.append(.bytes(Array(content[..<400])), to: id, in: Self.app, scope: .default)
                _ = try await ingest.complete(
                    id, in: Self.app, scope: .default, claimed: digest, lastChunk: .bytes(Array(content[400...])))
            case 1:  // a whole blob (single POST)
                _ = try await ingest.ingest(blob: .bytes(content), claimed: digest, into: Self.app, scope: .default)
            case 2:  // verified bytes (pull-through, OCI-layout import)
                _ = try await ingest.ingest(verified: [(digest, content)]) {
                    try await store.submit(.putBlob(repository: Self.app, digest: digest, size: Int64(content.count)))
                }
            default:  // an import of a whole registry holding the blob, and the blobs linked so far
                var imported = store.state
                imported.scopes[.default]!.repositories[other]!.blobs[digest] = Int64(content.count)
                _ = try await ingest.ingest(verified: [(digest, content)]) {
                    try await store.restore(imported: imported, bytes: 1)
                }
            }
            linked.append(digest)
            for digest in linked {
                #expect(store.content.blobSize(digest) != nil, "round \(round): blob \(digest) was collected")
            }
            await collectorMoves()
        }
        collecting.cancel()
        await collecting.value
        #expect(passes.count.withLock { $0 } > 40)
        for digest in linked { #expect(try Self.read(digest, from: store.content).count == 1000) }
    }

    /// A blob already stored (for another account, say) but linked nowhere is pinned too while an
    /// ingest links it, though not a byte of it is written.
    @Test(arguments: locations)
    func aBlobStoredAlreadyIsPinnedUntilItIsLinked(kind: String) async throws {
        let directory = TemporaryDirectory()
        let (store, ingest) = try await Self.open(kind, directory)
        let content = Self.bytes(99)
        let digest = ContentDigester.digest(content)
        try store.content.writeBlob(digest, content)
        _ = try await ingest.ingest(verified: [], alsoLinking: [digest]) {
            #expect(await store.collectGarbage() == 0)
            return try await store.submit(.putBlob(repository: Self.app, digest: digest, size: 1000))
        }
        #expect(await store.collectGarbage() == 0)
        #expect(store.content.blobSize(digest) == 1000)
    }

    /// Of eight chunks claiming the same offset at once, exactly one lands; the others are refused
    /// as out of order (and logged), and the upload holds exactly the winner's bytes.
    @Test(arguments: locations)
    func concurrentChunksAtOneOffsetLetExactlyOneLand(kind: String) async throws {
        let directory = TemporaryDirectory()
        let (store, ingest) = try await Self.open(kind, directory)
        let id = try await ingest.begin(in: Self.app, scope: .default)
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<8 {
                group.addTask {
                    do {
                        _ = try await ingest.append(
                            .bytes(Self.bytes(n, count: 10)), to: id, in: Self.app, scope: .default, at: 0)
                        return (n, true)
                    } catch let error as RegistryError {
                        #expect(error == .chunkOutOfOrder(id, expectedOffset: 10, offset: 0))
                        return (n, false)
                    } catch {
                        Issue.record("unexpected \(error)")
                        return (n, false)
                    }
                }
            }
            return await group.reduce(into: [(Int, Bool)]()) { $0.append($1) }
        }
        let winners = results.filter(\.1).map(\.0)
        #expect(winners.count == 1)
        #expect(store.state[.default].uploads[id]?.size == 10)
        var spooled = [UInt8](repeating: 0, count: 20)
        let n = try spooled.withUnsafeMutableBytes { try store.content.readSpool(id, at: 0, into: $0) }
        #expect(Array(spooled.prefix(n)) == Self.bytes(winners[0], count: 10))
        let refused = try await store.records(after: 0).filter {
            $0.refusal != nil && $0.envelope.command.kind == "appendChunk"
        }
        #expect(refused.count == 7)
        let (digest, size) = try await ingest.complete(
            id, in: Self.app, scope: .default, claimed: ContentDigester.digest(Self.bytes(winners[0], count: 10)))
        #expect(size == 10 && store.state[.default].repositories[Self.app]?.blobs[digest] == 10)
    }

    /// Chunks sent at once without an offset are taken one at a time: each lands whole, one after another.
    @Test(arguments: locations)
    func concurrentChunksWithoutAnOffsetLandOneAfterAnother(kind: String) async throws {
        let directory = TemporaryDirectory()
        let (store, ingest) = try await Self.open(kind, directory)
        let id = try await ingest.begin(in: Self.app, scope: .default)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 {
                group.addTask {
                    _ = try await ingest.append(
                        .bytes(Self.bytes(n, count: 1000)), to: id, in: Self.app, scope: .default)
                }
            }
            try await group.waitForAll()
        }
        #expect(store.state[.default].uploads[id]?.size == 8000)
        var spooled = [UInt8](repeating: 0, count: 8000)
        _ = try spooled.withUnsafeMutableBytes { try store.content.readSpool(id, at: 0, into: $0) }
        let runs = (0..<8).map { Array(spooled[($0 * 1000)..<($0 * 1000 + 1000)]) }
        #expect(Set(runs) == Set((0..<8).map { Self.bytes($0, count: 1000) }))
        let (digest, _) = try await ingest.complete(
            id, in: Self.app, scope: .default, claimed: ContentDigester.digest(spooled))
        #expect(try Self.read(digest, from: store.content) == spooled)
    }

    /// An upload goes on after a restart between its chunks: the running digest is rebuilt from
    /// the spool (the memory engine forgets only the digest, the file engine everything but the files).
    @Test(arguments: locations)
    func anUploadResumesAfterARestartBetweenChunks(kind: String) async throws {
        let directory = TemporaryDirectory()
        let content = Self.bytes(5, count: 3000)
        var (store, ingest) = try await Self.open(kind, directory)
        let id = try await ingest.begin(in: Self.app, scope: .default)
        _ = try await ingest.append(.bytes(Array(content[..<1000])), to: id, in: Self.app, scope: .default)
        if kind == "directory" {
            await store.quiesce()
            (store, ingest) = try await Self.open(kind, directory)
        } else {
            ingest = Ingest(store: store)
        }
        #expect(store.state[.default].uploads[id]?.size == 1000)
        _ = try await ingest.append(.bytes(Array(content[1000..<2000])), to: id, in: Self.app, scope: .default)
        let wrong = ContentDigester.digest(Array(content[..<10]))
        await #expect(throws: RegistryError.self) {
            _ = try await ingest.complete(
                id, in: Self.app, scope: .default, claimed: wrong, lastChunk: .bytes(Array(content[2000...])))
        }
        // The last chunk stays, the wrong commit is history, and the upload completes with the right digest.
        #expect(store.state[.default].uploads[id]?.size == 3000)
        let (digest, size) = try await ingest.complete(
            id, in: Self.app, scope: .default, claimed: ContentDigester.digest(content))
        #expect(size == 3000)
        #expect(try Self.read(digest, from: store.content) == content)
        #expect(!store.content.spoolIDs().contains(id.rawValue))
        let kinds = try await store.records(after: 0).filter { $0.envelope.command.upload == id }.map {
            $0.envelope.command.kind + ($0.refusal == nil ? "" : " refused")
        }
        #expect(
            kinds == [
                "startUpload", "appendChunk", "appendChunk", "appendChunk", "commitUpload refused", "commitUpload",
            ])
    }

    /// A whole blob whose bytes are not its claimed digest is refused, logged, and leaves nothing behind.
    @Test(arguments: locations)
    func aWholeBlobWithTheWrongDigestLeavesNothing(kind: String) async throws {
        let directory = TemporaryDirectory()
        let (store, ingest) = try await Self.open(kind, directory)
        let claimed = ContentDigester.digest(Self.bytes(1))
        await #expect(
            throws: RegistryError.digestMismatch(nil, claimed: claimed, computed: ContentDigester.digest(Self.bytes(2)))
        ) {
            _ = try await ingest.ingest(blob: .bytes(Self.bytes(2)), claimed: claimed, into: Self.app, scope: .default)
        }
        #expect(store.content.spoolIDs().isEmpty && store.content.blobDigests().isEmpty)
        #expect(try await store.records(after: 0).last?.refusal != nil)
    }
}
