import Foundation
import HashTreeCollections
import Testing

@testable import StowageCore

/// Builders shared by the reducer tests.
enum Fixture {
    static let app = RepositoryName("app")!
    static let web = RepositoryName("team/web")!
    static let other = Scope(account: AccountID("123456789012")!, region: Region("eu-west-1")!)
    static let layer = digest("layer")
    static let config = digest("config")
    static let latest = Tag("latest")!
    static let v1 = Tag("v1")!
    static let upload = UploadID("up-1")!

    static func digest(_ seed: String) -> Digest {
        var hex = ""
        for byte in seed.utf8 { hex += String(byte, radix: 16) }
        return Digest("sha256:" + String((hex + String(repeating: "0", count: 64)).prefix(64)))!
    }

    static func time(_ n: Int) -> Timestamp { Timestamp(millisecondsSinceEpoch: 1_000_000 + Int64(n)) }

    static func manifest(
        _ seed: String, layers: [Digest] = [layer], config: Digest? = Fixture.config, subject: Digest? = nil,
        children: [Digest] = []
    ) -> Manifest {
        let content = "{\"seed\":\"\(seed)\"}"
        return Manifest(
            digest: digest("m" + seed), mediaType: "application/vnd.oci.image.manifest.v1+json", content: content,
            references: ManifestReferences(
                config: config.map {
                    Descriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: $0, size: 7)
                },
                layers: layers.map {
                    Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $0, size: 5)
                },
                manifests: children.map {
                    Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $0, size: 9)
                },
                subject: subject))
    }

    /// Applies commands at sequence 1, 2, …, checking invariants after each.
    static func state(_ commands: [Command], scope: Scope = .default) throws -> RegistryState {
        var state = RegistryState()
        for (i, command) in commands.enumerated() {
            try state.apply(Envelope(sequence: UInt64(i + 1), time: time(i + 1), scope: scope, command: command))
            #expect(state._checkInvariants() == [])
        }
        return state
    }

    /// Images `one` (tagged `latest`) and `two` (tagged `v1`) in `app`.
    static func twoTaggedImages() throws -> (one: Manifest, two: Manifest, state: RegistryState) {
        let one = manifest("one")
        let two = manifest("two")
        let state = try state(
            withBlobs + [
                .putManifest(repository: app, manifest: one, tag: latest),
                .putManifest(repository: app, manifest: two, tag: v1),
            ])
        return (one, two, state)
    }

    /// A repository with a config and a layer linked (commands 1–3).
    static let withBlobs: [Command] = [
        .createRepository(name: app, settings: .init()),
        .putBlob(repository: app, digest: config, size: 7),
        .putBlob(repository: app, digest: layer, size: 5),
    ]

    static func repository(
        _ name: RepositoryName = app, createdAt: Int = 1, settings: RepositorySettings = .init(),
        blobs: [Digest: Int64] = [:]
    ) -> Repository {
        var repository = Repository(name: name, createdAt: time(createdAt), settings: settings)
        for (digest, size) in blobs { repository.blobs[digest] = size }
        return repository
    }

    static func registry(_ repositories: [Repository], uploads: [Upload] = [], scope: Scope = .default, sequence: Int)
        -> RegistryState
    {
        var state = RegistryState()
        var scoped = ScopeState()
        for repository in repositories { scoped.repositories[repository.name] = repository }
        for upload in uploads { scoped.uploads[upload.id] = upload }
        state.scopes[scope] = scoped
        state.sequence = UInt64(sequence)
        state.time = time(sequence)
        return state
    }
}

struct ReducerTests {
    typealias F = Fixture

    @Test func createRepositoryAddsAnEmptyRepositoryWithItsSettings() throws {
        let settings = RepositorySettings(tagMutability: .immutable, scanOnPush: true)
        let state = try F.state([.createRepository(name: F.app, settings: settings)])
        #expect(state == F.registry([F.repository(settings: settings)], sequence: 1))
    }

    @Test func anUploadAccumulatesChunksThenBecomesALinkedBlob() throws {
        var state = try F.state([
            .createRepository(name: F.app, settings: .init()),
            .startUpload(id: F.upload, repository: F.app),
            .appendChunk(upload: F.upload, repository: F.app, offset: 0, length: 3),
            .appendChunk(upload: F.upload, repository: F.app, offset: 3, length: 2),
        ])
        var inFlight = Upload(id: F.upload, repository: F.app, startedAt: F.time(2), size: 5, chunks: 2)
        inFlight.lastChunkLength = 2
        inFlight.smallestEarlierChunk = 3
        inFlight.touchedAt = F.time(4)
        #expect(state == F.registry([F.repository()], uploads: [inFlight], sequence: 4))

        try state.apply(
            Envelope(
                sequence: 5, time: F.time(5),
                command: .commitUpload(
                    upload: F.upload, repository: F.app, claimed: F.layer, computed: F.layer, size: 5)))
        #expect(state == F.registry([F.repository(blobs: [F.layer: 5])], sequence: 5))
    }

    @Test func aManifestWithAllItsBlobsIsStoredTaggedAndIndexedAsAReferrer() throws {
        let base = F.manifest("base")
        let signature = F.manifest("sig", subject: base.digest)
        let state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: base, tag: F.latest),
                .putManifest(repository: F.app, manifest: signature, tag: nil),
            ])
        var repository = F.repository(blobs: [F.config: 7, F.layer: 5])
        repository.images[base.digest] = Image(manifest: base, pushedAt: F.time(4), tags: [F.latest])
        repository.images[signature.digest] = Image(manifest: signature, pushedAt: F.time(5))
        repository.tags[F.latest] = repository.images[base.digest]!.tagTarget
        repository.referrers[base.digest] = [signature.digest]
        #expect(state == F.registry([repository], sequence: 5))
        #expect(state[.default].repositories[F.app]!.referrers(of: base.digest).map(\.digest) == [signature.digest])
    }

    @Test func movingAMutableTagLeavesTheOldImageUntagged() throws {
        let one = F.manifest("one")
        let two = F.manifest("two")
        let state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: one, tag: F.latest),
                .putManifest(repository: F.app, manifest: two, tag: F.latest),
            ])
        var repository = F.repository(blobs: [F.config: 7, F.layer: 5])
        repository.images[one.digest] = Image(manifest: one, pushedAt: F.time(4), tags: [])
        repository.images[two.digest] = Image(manifest: two, pushedAt: F.time(5), tags: [F.latest])
        repository.tags[F.latest] = repository.images[two.digest]!.tagTarget
        #expect(state == F.registry([repository], sequence: 5))
    }

    /// Tags given by equal copies of an image's digest (as each request's parsing makes them) all
    /// land on that one image.
    @Test func tagsGivenByEqualCopiesOfADigestAllLandOnItsImage() throws {
        let one = F.manifest("one")
        func copy(_ digest: Digest) -> Digest { Digest(String(decoding: Array(digest.rawValue.utf8), as: UTF8.self))! }
        let state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: one, tag: F.latest),
                .putManifest(
                    repository: F.app,
                    manifest: Manifest(
                        digest: copy(one.digest), mediaType: one.mediaType, content: one.content,
                        references: one.references),
                    tag: F.v1),
                .tagImage(repository: F.app, tag: Tag("v2")!, digest: copy(one.digest)),
            ])
        let repository = state.scopes[.default]!.repositories[F.app]!
        #expect(repository.images.count == 1)
        #expect(repository.images[one.digest]!.sortedTags == [F.latest, F.v1, Tag("v2")!].sorted())
        for tag in [F.latest, F.v1, Tag("v2")!] { #expect(repository.tags[tag]?.digest == one.digest) }
    }

    @Test func untaggingKeepsAnImageThatOtherTagsPointAtEvenWhenPruning() throws {
        let one = F.manifest("one")
        let state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: one, tag: F.latest),
                .tagImage(repository: F.app, tag: F.v1, digest: one.digest),
                .untagImage(repository: F.app, tag: F.latest, pruneUntaggedImage: true),
            ])
        var repository = F.repository(blobs: [F.config: 7, F.layer: 5])
        repository.images[one.digest] = Image(manifest: one, pushedAt: F.time(4), tags: [F.v1])
        repository.tags[F.v1] = repository.images[one.digest]!.tagTarget
        #expect(state == F.registry([repository], sequence: 6))
    }

    @Test func untaggingTheLastTagWithPruningRemovesTheImageAsECRDoes() throws {
        let one = F.manifest("one")
        let pruned = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: one, tag: F.latest),
                .untagImage(repository: F.app, tag: F.latest, pruneUntaggedImage: true),
            ])
        #expect(pruned == F.registry([F.repository(blobs: [F.config: 7, F.layer: 5])], sequence: 5))

        let kept = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: one, tag: F.latest),
                .untagImage(repository: F.app, tag: F.latest, pruneUntaggedImage: false),
            ])
        var repository = F.repository(blobs: [F.config: 7, F.layer: 5])
        repository.images[one.digest] = Image(manifest: one, pushedAt: F.time(4))
        #expect(kept == F.registry([repository], sequence: 5))
    }

    @Test func deletingAManifestRemovesItsTagsAndItsReferrerEntry() throws {
        let base = F.manifest("base")
        let signature = F.manifest("sig", subject: base.digest)
        let state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: base, tag: F.latest),
                .putManifest(repository: F.app, manifest: signature, tag: F.v1),
                .deleteManifest(repository: F.app, digest: signature.digest),
            ])
        var repository = F.repository(blobs: [F.config: 7, F.layer: 5])
        repository.images[base.digest] = Image(manifest: base, pushedAt: F.time(4), tags: [F.latest])
        repository.tags[F.latest] = repository.images[base.digest]!.tagTarget
        #expect(state == F.registry([repository], sequence: 6))
    }

    @Test func mountingLinksABlobFromAnotherRepositoryOfTheSameAccount() throws {
        let state = try F.state(
            F.withBlobs + [
                .createRepository(name: F.web, settings: .init()),
                .mountBlob(repository: F.web, digest: F.layer, from: F.app),
            ])
        #expect(
            state
                == F.registry(
                    [
                        F.repository(blobs: [F.config: 7, F.layer: 5]),
                        F.repository(F.web, createdAt: 4, blobs: [F.layer: 5]),
                    ], sequence: 5))
    }

    @Test func forcedDeletionRemovesTheRepositoryAndItsUploads() throws {
        let state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: F.manifest("one"), tag: F.latest),
                .startUpload(id: F.upload, repository: F.app),
                .deleteRepository(name: F.app, force: true),
            ])
        var expected = RegistryState()
        expected.scopes[.default] = ScopeState()
        expected.sequence = 6
        expected.time = F.time(6)
        #expect(state == expected)
    }

    @Test func resetEmptiesOneScopeOrEverythingButKeepsCheckpoints() throws {
        var state = try F.state([
            .createRepository(name: F.app, settings: .init()), .checkpoint(name: CheckpointName("base")!),
        ])
        try state.apply(
            Envelope(
                sequence: 3, time: F.time(3), scope: F.other, command: .createRepository(name: F.web, settings: .init())
            ))
        try state.apply(Envelope(sequence: 4, time: F.time(4), scope: F.other, command: .reset(extent: .scope)))
        var expected = F.registry([F.repository()], sequence: 4)
        expected.checkpoints[CheckpointName("base")!] = Checkpoint(
            name: CheckpointName("base")!, sequence: 2, time: F.time(2))
        #expect(state == expected)

        try state.apply(Envelope(sequence: 5, time: F.time(5), command: .reset(extent: .everything)))
        expected.scopes = [:]
        expected.sequence = 5
        expected.time = F.time(5)
        #expect(state == expected)
    }

    @Test func restoringMakesTheStateAStoredPointKeepingCheckpointsAndCancellingUploads() throws {
        let before = try F.state(
            F.withBlobs + [.putManifest(repository: F.app, manifest: F.manifest("one"), tag: F.latest)])
        var state = try F.state(
            F.withBlobs + [
                .putManifest(repository: F.app, manifest: F.manifest("one"), tag: F.latest),
                .checkpoint(name: CheckpointName("base")!),
                .deleteManifest(repository: F.app, digest: F.manifest("one").digest),
                .createRepository(name: F.web, settings: .init()),
                .startUpload(id: F.upload, repository: F.app),
            ])
        try state.apply(
            Envelope(sequence: 9, time: F.time(9), command: .restore(point: 4, cause: .rewind(to: 4, checkpoint: nil)))
        ) { $0 == 4 ? before : nil }
        var expected = before
        expected.sequence = 9
        expected.time = F.time(9)
        expected.checkpoints[CheckpointName("base")!] = Checkpoint(
            name: CheckpointName("base")!, sequence: 5, time: F.time(5))
        #expect(state == expected)
        #expect(state._checkInvariants() == [])
        let unchanged = state
        #expect(throws: RegistryError.pointUnavailable(3)) {
            try state.apply(
                Envelope(sequence: 10, time: F.time(10), command: .restore(point: 3, cause: .importFile(bytes: 1))))
        }
        #expect(state == unchanged)
    }

    @Test func scopesAreIsolated() throws {
        var state = try F.state(F.withBlobs)
        try state.apply(
            Envelope(
                sequence: 4, time: F.time(4), scope: F.other, command: .createRepository(name: F.app, settings: .init())
            ))
        #expect(state[F.other].repositories[F.app]!.blobs.isEmpty)
        #expect(throws: RegistryError.blobNotFound(F.app, F.layer)) {
            var copy = state
            try copy.apply(
                Envelope(
                    sequence: 5, time: F.time(5), scope: F.other,
                    command: .mountBlob(repository: F.app, digest: F.layer, from: F.app)))
        }
    }

    /// A refusal case: the setup, the refused command, the error.
    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var setup: [Command]
        var command: Command
        var error: RegistryError
        var testDescription: String { name }
    }

    /// Every refusal. The state must not change at all.
    static let refusals: [Refusal] = {
        let one = F.manifest("one")
        let two = F.manifest("two")
        let immutable = RepositorySettings(tagMutability: .immutable)
        let excluded = RepositorySettings(tagMutability: .immutableWithExclusion, mutabilityExclusions: ["lat*"])
        let started: [Command] =
            F.withBlobs + [
                .startUpload(id: F.upload, repository: F.app),
                .appendChunk(upload: F.upload, repository: F.app, offset: 0, length: 4),
            ]
        let pushed = F.withBlobs + [.putManifest(repository: F.app, manifest: one, tag: F.latest)]
        let table: [(String, [Command], Command, RegistryError)] = [
            (
                "duplicate repository", [.createRepository(name: F.app, settings: .init())],
                .createRepository(name: F.app, settings: .init()), .repositoryAlreadyExists(F.app)
            ),
            ("delete missing repository", [], .deleteRepository(name: F.app, force: true), .repositoryNotFound(F.app)),
            (
                "delete non-empty repository", pushed, .deleteRepository(name: F.app, force: false),
                .repositoryNotEmpty(F.app, images: 1)
            ),
            (
                "upload into missing repository", [], .startUpload(id: F.upload, repository: F.app),
                .repositoryNotFound(F.app)
            ),
            (
                "duplicate upload id", started, .startUpload(id: F.upload, repository: F.app),
                .uploadAlreadyExists(F.upload)
            ),
            (
                "chunk past the end", started, .appendChunk(upload: F.upload, repository: F.app, offset: 5, length: 1),
                .chunkOutOfOrder(F.upload, expectedOffset: 4, offset: 5)
            ),
            (
                "chunk rewinding", started, .appendChunk(upload: F.upload, repository: F.app, offset: 0, length: 1),
                .chunkOutOfOrder(F.upload, expectedOffset: 4, offset: 0)
            ),
            (
                "negative chunk", started, .appendChunk(upload: F.upload, repository: F.app, offset: 4, length: -1),
                .invalidChunkLength(F.upload, length: -1)
            ),
            (
                "upload used under another repository", started + [.createRepository(name: F.web, settings: .init())],
                .appendChunk(upload: F.upload, repository: F.web, offset: 4, length: 1), .uploadNotFound(F.upload)
            ),
            (
                "digest mismatch", started,
                .commitUpload(upload: F.upload, repository: F.app, claimed: F.layer, computed: F.config, size: 4),
                .digestMismatch(F.upload, claimed: F.layer, computed: F.config)
            ),
            (
                "size mismatch", started,
                .commitUpload(upload: F.upload, repository: F.app, claimed: F.layer, computed: F.layer, size: 9),
                .sizeMismatch(F.upload, expected: 4, size: 9)
            ),
            (
                "cancel unknown upload", F.withBlobs, .cancelUpload(upload: F.upload, repository: F.app),
                .uploadNotFound(F.upload)
            ),
            (
                "mount a blob the source lacks", F.withBlobs + [.createRepository(name: F.web, settings: .init())],
                .mountBlob(repository: F.web, digest: F.digest("nope"), from: F.app),
                .blobNotFound(F.app, F.digest("nope"))
            ),
            (
                "delete an unlinked blob", F.withBlobs, .deleteBlobLink(repository: F.app, digest: F.digest("nope")),
                .blobNotFound(F.app, F.digest("nope"))
            ),
            (
                "manifest with missing blobs, all listed",
                [
                    .createRepository(name: F.app, settings: .init()),
                    .putBlob(repository: F.app, digest: F.config, size: 7),
                ],
                .putManifest(
                    repository: F.app, manifest: F.manifest("x", layers: [F.layer, F.digest("l2"), F.layer]), tag: nil),
                .manifestReferencesMissing(F.app, blobs: [F.layer, F.digest("l2")], manifests: [])
            ),
            (
                "index with a missing child", F.withBlobs,
                .putManifest(
                    repository: F.app, manifest: F.manifest("i", layers: [], config: nil, children: [one.digest]),
                    tag: nil),
                .manifestReferencesMissing(F.app, blobs: [], manifests: [one.digest])
            ),
            (
                "moving an immutable tag",
                [.createRepository(name: F.app, settings: immutable)] + F.withBlobs.dropFirst() + [
                    .putManifest(repository: F.app, manifest: one, tag: F.latest)
                ],
                .putManifest(repository: F.app, manifest: two, tag: F.latest),
                .tagImmutable(F.app, F.latest, current: one.digest)
            ),
            (
                "moving a tag not excluded from immutability",
                [.createRepository(name: F.app, settings: excluded)] + F.withBlobs.dropFirst() + [
                    .putManifest(repository: F.app, manifest: one, tag: F.v1)
                ],
                .putManifest(repository: F.app, manifest: two, tag: F.v1),
                .tagImmutable(F.app, F.v1, current: one.digest)
            ),
            (
                "tagging a missing image", F.withBlobs, .tagImage(repository: F.app, tag: F.v1, digest: one.digest),
                .manifestNotFound(F.app, reference: one.digest.rawValue)
            ),
            (
                "untagging a missing tag", pushed, .untagImage(repository: F.app, tag: F.v1, pruneUntaggedImage: false),
                .tagNotFound(F.app, F.v1)
            ),
            (
                "deleting a missing manifest", pushed, .deleteManifest(repository: F.app, digest: two.digest),
                .manifestNotFound(F.app, reference: two.digest.rawValue)
            ),
            (
                "settings of a missing repository", [], .setScanOnPush(repository: F.app, scanOnPush: true),
                .repositoryNotFound(F.app)
            ),
        ]
        return table.map { Refusal(name: $0.0, setup: $0.1, command: $0.2, error: $0.3) }
    }()

    @Test(arguments: refusals)
    func refusedCommandsLeaveTheStateExactlyAsItWas(_ refusal: Refusal) throws {
        let before = try F.state(refusal.setup)
        var state = before
        #expect(throws: refusal.error) {
            try state.apply(
                Envelope(sequence: UInt64(refusal.setup.count + 1), time: F.time(99), command: refusal.command))
        }
        #expect(state == before)
    }

    @Test func aTagExcludedFromImmutabilityCanMove() throws {
        let settings = RepositorySettings(tagMutability: .immutableWithExclusion, mutabilityExclusions: ["lat*"])
        let state = try F.state(
            [.createRepository(name: F.app, settings: settings)] + F.withBlobs.dropFirst() + [
                .putManifest(repository: F.app, manifest: F.manifest("one"), tag: F.latest),
                .putManifest(repository: F.app, manifest: F.manifest("two"), tag: F.latest),
            ])
        #expect(state[.default].repositories[F.app]!.tags[F.latest]?.digest == F.manifest("two").digest)
    }

    @Test func tagsArePagedInLexicalOrder() throws {
        let one = F.manifest("one")
        let tags = ["b", "a", "c10", "c2", "Z"].map { Tag($0)! }
        let state = try F.state(
            F.withBlobs + [.putManifest(repository: F.app, manifest: one, tag: nil)]
                + tags.map { .tagImage(repository: F.app, tag: $0, digest: one.digest) })
        let repository = state[.default].repositories[F.app]!
        #expect(repository.tags().items.map(\.rawValue) == ["Z", "a", "b", "c10", "c2"])
        let first = repository.tags(limit: 2)
        #expect(first.items.map(\.rawValue) == ["Z", "a"] && first.hasMore)
        let next = repository.tags(after: first.items.last, limit: 2)
        #expect(next.items.map(\.rawValue) == ["b", "c10"] && next.hasMore)
        let last = repository.tags(after: next.items.last, limit: 2)
        #expect(last.items.map(\.rawValue) == ["c2"] && !last.hasMore)
        #expect(repository.tags(limit: 0).items.isEmpty)
    }
}

/// A tag holds its image's manifest by the reference the image holds: 8 bytes in the tag table.
struct TagTargetTests {
    typealias F = Fixture

    @Test func aTagHoldsItsImagesManifestReferenceAndFollowsAMove() throws {
        #expect(MemoryLayout<TagTarget>.size == 8)
        var (one, two, state) = try F.twoTaggedImages()
        var repository = state[.default].repositories[F.app]!
        #expect(repository.tags[F.latest] == repository.images[one.digest]!.tagTarget)
        #expect(repository.tags[F.latest]?.digest == one.digest)
        #expect(repository.tags[F.v1]?.digest == two.digest)
        try state.apply(
            Envelope(
                sequence: 100, time: F.time(100),
                command: .tagImage(repository: F.app, tag: F.latest, digest: two.digest)))
        repository = state[.default].repositories[F.app]!
        #expect(repository.tags[F.latest]?.digest == two.digest)
        #expect(repository.images[one.digest]!.tags.isEmpty)
        #expect(repository.images[two.digest]!.sortedTags == [F.latest, F.v1])
        // Round trip through the generic coder: tags are written as digests and point at their images again.
        let decoded = try JSONDecoder().decode(Repository.self, from: JSONEncoder().encode(repository))
        #expect(decoded == repository)
        #expect(decoded.tags[F.v1] == decoded.images[two.digest]!.tagTarget)
    }
}
