public import StowageCore

/// A registry that uses every part of the state: two account-regions, settings of every kind,
/// blobs, an upload in flight, an image, an index, a referrer with annotations, tags and a
/// checkpoint. Golden files are made from it, so a format change that drops a field shows.
public enum GoldenFixture {
    public static let commands: [(Scope, Command)] = {
        let app = RepositoryName("team/app")!
        let other = Scope(account: AccountID("123456789012")!, region: Region("eu-west-1")!)
        let config = CommandGenerator.fakeDigest("config")
        let layer = CommandGenerator.fakeDigest("layer")
        let image = Manifest(
            digest: CommandGenerator.fakeDigest("image"), mediaType: "application/vnd.oci.image.manifest.v1+json",
            content: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","note":"é/\u00e9"}"#,
            references: ManifestReferences(
                config: Descriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 120),
                layers: [
                    Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer, size: 4096)
                ]))
        let index = Manifest(
            digest: CommandGenerator.fakeDigest("index"), mediaType: "application/vnd.oci.image.index.v1+json",
            content: #"{"schemaVersion":2,"manifests":[]}"#,
            references: ManifestReferences(manifests: [
                Descriptor(mediaType: image.mediaType, digest: image.digest, size: image.size)
            ]))
        let signature = Manifest(
            digest: CommandGenerator.fakeDigest("signature"), mediaType: "application/vnd.oci.image.manifest.v1+json",
            content: #"{"schemaVersion":2,"artifactType":"application/vnd.example.sig"}"#,
            references: ManifestReferences(
                config: Descriptor(mediaType: "application/vnd.oci.empty.v1+json", digest: config, size: 2),
                subject: image.digest, artifactType: "application/vnd.example.sig",
                annotations: ["org.example.signer": "ci"]))
        let settings = RepositorySettings(
            tagMutability: .immutableWithExclusion, mutabilityExclusions: ["dev-*"], scanOnPush: true,
            encryption: EncryptionConfiguration(
                encryptionType: "KMS", kmsKey: "arn:aws:kms:us-east-1:000000000000:key/k"),
            resourceTags: [ResourceTag(key: "team", value: "platform")])
        return [
            (.default, .createRepository(name: app, settings: settings)),
            (.default, .setRepositoryPolicy(repository: app, policy: #"{"Version":"2012-10-17","Statement":[]}"#)),
            (.default, .setLifecyclePolicy(repository: app, policy: LifecyclePolicy(stored: #"{"rules":[]}"#))),
            (.default, .putBlob(repository: app, digest: config, size: 120)),
            (.default, .startUpload(id: UploadID("upload-1")!, repository: app)),
            (.default, .appendChunk(upload: UploadID("upload-1")!, repository: app, offset: 0, length: 4096)),
            (
                .default,
                .commitUpload(
                    upload: UploadID("upload-1")!, repository: app, claimed: layer, computed: layer, size: 4096)
            ),
            (.default, .startUpload(id: UploadID("upload-2")!, repository: app)),
            (.default, .appendChunk(upload: UploadID("upload-2")!, repository: app, offset: 0, length: 100)),
            (.default, .putManifest(repository: app, manifest: image, tag: Tag("v1")!)),
            (.default, .tagImage(repository: app, tag: Tag("dev-latest")!, digest: image.digest)),
            (.default, .putManifest(repository: app, manifest: index, tag: Tag("multi")!)),
            (.default, .putManifest(repository: app, manifest: signature, tag: nil)),
            (other, .createRepository(name: RepositoryName("base/alpine")!, settings: .init())),
            (.default, .checkpoint(name: CheckpointName("baseline")!)),
        ]
    }()

    /// The envelopes, stamped 1, 2, … one second apart.
    public static var envelopes: [Envelope] {
        commands.enumerated().map { i, entry in
            Envelope(
                sequence: UInt64(i + 1), time: Timestamp(millisecondsSinceEpoch: 1_780_000_000_000 + Int64(i) * 1000),
                scope: entry.0, command: entry.1)
        }
    }

    /// The state after every command.
    public static var state: RegistryState {
        var state = RegistryState()
        for envelope in envelopes { try! state.apply(envelope) }
        return state
    }
}
