import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport

@testable import StowageStorage

/// A log that holds every kind of command, every registry-setting change and every reason for a
/// refusal, as format v1 writes them. Its file (`Golden/log-v1/`, a data directory) must replay
/// in every later Stowage: renaming a case of `Command`, `RegistrySettingChange` or
/// `RegistryError` would make old logs unreadable, and this file says so first.
enum GoldenLog {
    static let app = RepositoryName("team/app")!
    static let base = RepositoryName("base/alpine")!
    static let other = Scope(account: AccountID("123456789012")!, region: Region("eu-west-1")!)
    static let config = CommandGenerator.fakeDigest("config")
    static let layer = CommandGenerator.fakeDigest("layer")
    static let policy = try! LifecyclePolicy(
        #"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#
    )

    static func manifest(_ seed: String, children: [Digest] = []) -> Manifest {
        let index = !children.isEmpty
        return Manifest(
            digest: CommandGenerator.fakeDigest(seed),
            mediaType: index ? ManifestMediaType.ociIndex : ManifestMediaType.ociManifest,
            content: #"{"schemaVersion":2,"seed":"\#(seed)"}"#,
            references: ManifestReferences(
                config: index
                    ? nil : Descriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 2),
                layers: index
                    ? []
                    : [Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer, size: 4)],
                manifests: children.map { Descriptor(mediaType: ManifestMediaType.ociManifest, digest: $0, size: 40) }))
    }

    static let image = manifest("image")
    static let template = CreationTemplate.Fields(
        description: "prod", tagMutability: .immutableWithExclusion, mutabilityExclusions: ["dev-*"],
        encryption: EncryptionConfiguration(encryptionType: "KMS", kmsKey: "k"),
        resourceTags: [ResourceTag(key: "team", value: "a")], repositoryPolicy: "{}", lifecyclePolicy: policy,
        appliedFor: [.createOnPush, .replication], customRoleArn: "arn:aws:iam::000000000000:role/r")
    static let rule = PullThroughRule(
        prefix: "hub", upstreamRegistryURL: "http://127.0.0.1:1", registryId: "000000000000",
        createdAt: Timestamp(millisecondsSinceEpoch: 1_780_000_000_000),
        updatedAt: Timestamp(millisecondsSinceEpoch: 1_780_000_000_000), upstreamRegistry: "docker-hub",
        credentialArn: "c", customRoleArn: "r", upstreamRepositoryPrefix: "library")

    /// Every entry: a scope, a command, and the refusal when it is one that was refused.
    static var entries: [(Scope, Command, RegistryError?)] {
        let u1 = UploadID("upload-1")!
        let u2 = UploadID("upload-2")!
        let settings = RepositorySettings(
            tagMutability: .mutable, scanOnPush: false, encryption: .init(),
            resourceTags: [ResourceTag(key: "k", value: "v")])
        let changes: [RegistrySettingChange] = [
            .policy("{}"),
            .replication(ReplicationConfiguration(rules: [.init(destinations: [other], repositoryFilters: ["team"])])),
            .scanning(
                ScanningConfiguration(
                    scanType: .basic, rules: [.init(scanFrequency: .manual, repositoryFilters: ["*"])])),
            .signing(
                SigningConfiguration(rules: [.init(signingProfileArn: "arn:aws:signer:p", repositoryFilters: ["a*"])])),
            .accountSetting(name: "BLOB_MOUNTING", value: "ENABLED"),
            .registerPullTimeUpdateExclusion(principal: "arn:aws:iam::000000000000:role/x", limit: 20),
            .deregisterPullTimeUpdateExclusion(principal: "arn:aws:iam::000000000000:role/x"),
            .seedScanFindings(
                digest: image.digest, findings: [ScanFinding(name: "CVE-1", severity: "HIGH", attributes: ["a": "b"])]),
            .creationTemplate(
                prefix: "old",
                template: CreationTemplate(
                    prefix: "old", createdAt: Timestamp(millisecondsSinceEpoch: 1_780_000_000_000),
                    updatedAt: Timestamp(millisecondsSinceEpoch: 1_780_000_000_000), fields: template)),
            .createCreationTemplate(prefix: "prod", fields: template),
            .updateCreationTemplate(prefix: "prod", changes: CreationTemplate.Fields(description: "production")),
            .deleteCreationTemplate(prefix: "old"),
            .pullThroughRule(prefix: "old", rule: rule),
            .createPullThroughRule(rule),
            .updatePullThroughRule(prefix: "hub", credentialArn: "c2", customRoleArn: nil),
            .deletePullThroughRule(prefix: "old"),
        ]
        var applied: [(Scope, Command)] = [
            (.default, .createRepository(name: app, settings: settings)),
            (.default, .setTagMutability(repository: app, mutability: .immutableWithExclusion, exclusions: ["dev-*"])),
            (.default, .setScanOnPush(repository: app, scanOnPush: true)),
            (.default, .setRepositoryPolicy(repository: app, policy: #"{"Version":"2012-10-17"}"#)),
            (.default, .setLifecyclePolicy(repository: app, policy: policy)),
            (.default, .setLifecyclePreview(repository: app, policy: policy)),
            (.default, .tagRepository(repository: app, tags: [ResourceTag(key: "team", value: "b")], limit: 50)),
            (.default, .untagRepository(repository: app, keys: ["k"])),
        ]
        applied += changes.map { (Scope.default, Command.changeRegistrySettings($0)) }
        let u3 = UploadID("upload-3")!
        applied += [
            (.default, .startUpload(id: u1, repository: app)),
            (.default, .appendChunk(upload: u1, repository: app, offset: 0, length: 4)),
            (
                .default,
                .commitUpload(
                    upload: u1, repository: app, claimed: layer, computed: layer, size: 4,
                    layerRules: LayerUploadRules(minimumPartSize: 5 << 20))
            ),
            (.default, .startUpload(id: u2, repository: app)),
            (.default, .cancelUpload(upload: u2, repository: app)),
            (.default, .startUpload(id: u3, repository: app)),
            (.default, .endUpload(upload: u3, repository: app, reason: .expired)),
            (.default, .putBlob(repository: app, digest: config, size: 2)),
            (.default, .createRepository(name: base, settings: .init())),
            (.default, .mountBlob(repository: base, digest: config, from: app)),
            (.default, .mountBlob(repository: base, digest: layer, from: nil)),
            (.default, .deleteBlobLink(repository: base, digest: layer)),
        ]
        let index = manifest("index", children: [image.digest])
        let everything = PutManifestOptions(
            refuseIfPresent: true, allowMissingReferences: true, moreTags: [Tag("multi-2")!, Tag("multi-3")!])
        applied += [
            (.default, .putManifest(repository: app, manifest: image, tag: Tag("v1"))),
            (.default, .putManifest(repository: app, manifest: index, tag: Tag("multi"), options: everything)),
            (.default, .tagImage(repository: app, tag: Tag("dev-1")!, digest: image.digest)),
            (.default, .untagImage(repository: app, tag: Tag("dev-1")!, pruneUntaggedImage: false)),
            (.default, .setImageArchived(repository: app, digest: image.digest, archived: true)),
            (.default, .recordImageScan(repository: app, digest: image.digest, findings: [])),
            (.default, .setImageArchived(repository: app, digest: image.digest, archived: false)),
            (.default, .putManifest(repository: app, manifest: manifest("two"), tag: nil)),
            (.default, .expireImages(repository: app, digests: [manifest("two").digest])),
            (.default, .putManifest(repository: app, manifest: manifest("three"), tag: nil)),
            (.default, .deleteManifest(repository: app, digest: manifest("three").digest, refuseIfReferenced: true)),
            (other, .createRepository(name: base, settings: .init())),
            (.default, .setClock(offsetMilliseconds: 3_600_000)),
            (.default, .checkpoint(name: CheckpointName("baseline")!)),
            (other, .reset(extent: .scope)),
        ]
        var entries = applied.map { ($0.0, $0.1, RegistryError?.none) }
        let checkpoint = UInt64(entries.count - 1)
        entries.append(
            (
                .default,
                .restore(point: checkpoint, cause: .rewind(to: checkpoint, checkpoint: CheckpointName("baseline"))), nil
            ))
        entries.append((.default, .restore(point: UInt64(entries.count + 1), cause: .importFile(bytes: 1234)), nil))
        entries.append((.default, .deleteRepository(name: base, force: true), nil))
        // One refusal of each kind, on commands of every shape.
        let refusals: [RegistryError] = [
            .repositoryNotFound(app), .repositoryAlreadyExists(app), .repositoryNotEmpty(app, images: 2),
            .uploadNotFound(u1), .uploadAlreadyExists(u1), .chunkOutOfOrder(u1, expectedOffset: 4, offset: 0),
            .invalidChunkLength(u1, length: -1), .digestMismatch(u1, claimed: layer, computed: config),
            .digestMismatch(nil, claimed: layer, computed: config), .sizeMismatch(u1, expected: 4, size: 5),
            .blobNotFound(app, layer), .manifestReferencesMissing(app, blobs: [layer], manifests: [config]),
            .manifestNotFound(app, reference: "v9"), .tagNotFound(app, Tag("v9")!),
            .tagImmutable(app, Tag("v1")!, current: image.digest), .pointUnavailable(7), .settingNotFound("x"),
            .settingAlreadyExists("x"), .imageAlreadyExists(app, image.digest, tag: Tag("v1")),
            .layerAlreadyExists(app, layer), .emptyUpload(u1), .partTooSmall(u1, size: 1, minimum: 5),
            .tooManyResourceTags(app, limit: 50), .limitExceeded("exclusions", limit: 20),
            .imageReferencedByIndex(app, image.digest, parents: [config]), .templateNotFound(prefix: "x"),
            .templateAlreadyExists(prefix: "x"), .pullThroughRuleNotFound(prefix: "x"),
            .pullThroughRuleAlreadyExists(prefix: "x"),
        ]
        for refusal in refusals {
            entries.append((.default, .appendChunk(upload: u1, repository: app, offset: 0, length: 1), refusal))
        }
        let request = "PUT of upload 'upload-1' with digest 'sha256:nothex'"
        entries.append(
            (.default, .refuseRequest(upload: u1, repository: app, request: request), .invalidRequest("not a digest")))
        // Added after the first recording: appended, so the older records stay as they were.
        let switches = Switches(
            referrers: false, deletes: false, warning: "deprecated", rateLimit: 5, chunkMinLength: 1024)
        entries.append((.default, .configure(switches), nil))
        entries.append(
            (
                .default,
                .injectFault(
                    upload: u1, repository: app, request: "PATCH /v2/team/app/blobs/uploads/upload-1",
                    answer: "fault 1: 503 UNAVAILABLE"), nil
            ))
        return entries
    }

    static func time(_ sequence: UInt64) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: 1_780_000_000_000 + Int64(sequence) * 1000)
    }

    /// The state the import (the second restore) brings in: the registry as it stood, with one more repository.
    static func imported(_ before: RegistryState) -> RegistryState {
        var state = before
        state.scopes[.default]!.repositories[RepositoryName("imported/app")!] = Repository(
            name: RepositoryName("imported/app")!, createdAt: time(1))
        return state
    }

    /// The records, the state after them, and the stored point the import names.
    static func fold() throws -> (records: [LogRecord], state: RegistryState, points: [UInt64: RegistryState]) {
        var state = RegistryState()
        var records: [LogRecord] = []
        var points: [UInt64: RegistryState] = [:]
        for (i, (scope, command, refusal)) in entries.enumerated() {
            let sequence = UInt64(i + 1)
            let envelope = Envelope(sequence: sequence, time: time(sequence), scope: scope, command: command)
            if let refusal {
                records.append(LogRecord(envelope: envelope, refusal: refusal, origin: "PATCH /v2 upload"))
                continue
            }
            if case .restore(let point, .importFile) = command { points[point] = imported(state) }
            try state.apply(envelope) { points[$0] }
            if case .checkpoint = command { points[sequence] = state }
            // A reaction's record names what it follows.
            let cause =
                command.kind == "recordImageScan" ? RecordCause(trigger: sequence - 1, reaction: .scanOnPush) : nil
            records.append(LogRecord(envelope: envelope, cause: cause))
        }
        return (records, state, points)
    }
}
