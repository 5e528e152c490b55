import HashTreeCollections
public import StowageCore

/// Makes random commands for property tests: mostly ones the reducer accepts (they look at
/// the current state), and a share of wrong ones (bad offsets, missing blobs, wrong digests,
/// immutable tags) so that refusals are exercised too.
public struct CommandGenerator: Sendable {
    public var random: SeededGenerator
    private var uploadCounter = 0
    private var manifestCounter = 0

    public static let scopes = [
        Scope.default, Scope(account: AccountID("123456789012")!, region: Region("eu-west-1")!),
    ]
    public static let names = ["app", "team/web", "team/db", "base/alpine"].map { RepositoryName($0)! }
    public static let tags = ["latest", "v1", "v2", "stable", "dev"].map { Tag($0)! }
    public static let blobs = (0..<8).map { fakeDigest("blob-\($0)") }

    public init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// A digest-shaped value derived from `text` (the core never checks content against digests).
    public static func fakeDigest(_ text: String) -> Digest {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var hex = ""
        for round in 0..<4 {
            for byte in text.utf8 { hash = (hash ^ UInt64(byte) ^ UInt64(round)) &* 0x100_0000_01B3 }
            let part = String(hash, radix: 16)
            hex += String(repeating: "0", count: 16 - part.count) + part
        }
        return Digest("sha256:" + hex)!
    }

    /// The next command and the scope it acts in, given the current state.
    public mutating func next(for state: RegistryState) -> (Scope, Command) {
        let scope = Self.scopes.randomElement(using: &random)!
        let here = state[scope]
        let existing = Array(here.repositories.keys).sorted()
        let name = (existing.isEmpty || chance(0.1)) ? pick(Self.names) : pick(existing)
        let repository = here.repositories[name]
        let uploads = Array(here.uploads.values).sorted { $0.id < $1.id }
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<8:
            let mutability = chance(0.2) ? pick(TagMutability.allCases) : .mutable
            return (
                scope,
                .createRepository(
                    name: name, settings: RepositorySettings(tagMutability: mutability, mutabilityExclusions: ["dev*"]))
            )
        case 8..<10:
            return (scope, .deleteRepository(name: name, force: chance(0.5)))
        case 10..<13:
            return (
                scope,
                .setTagMutability(
                    repository: name, mutability: pick(TagMutability.allCases), exclusions: chance(0.5) ? ["v*"] : [])
            )
        case 13..<15:
            return (
                scope,
                .setRepositoryPolicy(repository: name, policy: chance(0.7) ? "{\"Version\":\"2012-10-17\"}" : nil)
            )
        case 15..<16:
            return (
                scope,
                chance(0.5)
                    ? .setScanOnPush(repository: name, scanOnPush: chance(0.5))
                    : .setLifecyclePolicy(
                        repository: name, policy: chance(0.7) ? LifecyclePolicy(stored: "{\"rules\":[]}") : nil)
            )
        case 16..<17:
            return (
                scope,
                .tagRepository(
                    repository: name, tags: [ResourceTag(key: pick(["team", "env"]), value: pick(["a", "b"]))])
            )
        case 17..<18:
            return (scope, .untagRepository(repository: name, keys: ["team"]))
        case 18..<28:
            uploadCounter += 1
            return (scope, .startUpload(id: UploadID("u\(uploadCounter)")!, repository: name))
        case 28..<40:
            guard let upload = uploads.randomElement(using: &random) else { return next(for: state) }
            let offset = chance(0.85) ? upload.size : upload.size + Int64.random(in: -3...3, using: &random)
            return (
                scope,
                .appendChunk(
                    upload: upload.id, repository: chance(0.95) ? upload.repository : name, offset: offset,
                    length: Int64.random(in: 0...1000, using: &random))
            )
        case 40..<48:
            guard let upload = uploads.randomElement(using: &random) else { return next(for: state) }
            let computed = pick(Self.blobs)
            let claimed = chance(0.85) ? computed : pick(Self.blobs)
            return (
                scope,
                .commitUpload(
                    upload: upload.id, repository: upload.repository, claimed: claimed, computed: computed,
                    size: chance(0.95) ? upload.size : upload.size + 1)
            )
        case 48..<50:
            guard let upload = uploads.randomElement(using: &random) else { return next(for: state) }
            if chance(0.3) {
                return (
                    scope,
                    .endUpload(upload: upload.id, repository: upload.repository, reason: pick([.expired, .bytesLost]))
                )
            }
            return (scope, .cancelUpload(upload: upload.id, repository: upload.repository))
        case 50..<55:
            return (
                scope,
                .putBlob(repository: name, digest: pick(Self.blobs), size: Int64.random(in: 1...5000, using: &random))
            )
        case 55..<57:
            let digests = repository.map { Array($0.images.keys).sorted() } ?? []
            let digest = digests.randomElement(using: &random) ?? Self.fakeDigest("missing")
            if chance(0.5) {
                return (scope, .setImageArchived(repository: name, digest: digest, archived: chance(0.5)))
            }
            return (
                scope,
                .recordImageScan(
                    repository: name, digest: digest,
                    findings: chance(0.5) ? [] : [ScanFinding(name: "CVE-\(manifestCounter)", severity: "LOW")])
            )
        case 57..<58:
            return (scope, .changeRegistrySettings(registryChange()))
        case 58..<61:
            return (scope, .mountBlob(repository: name, digest: pick(Self.blobs), from: pick(Self.names)))
        case 61..<63:
            return (scope, .deleteBlobLink(repository: name, digest: pick(Self.blobs)))
        case 63..<78:
            return (
                scope,
                .putManifest(
                    repository: name, manifest: makeManifest(in: repository), tag: chance(0.7) ? pick(Self.tags) : nil)
            )
        case 78..<84:
            let digests = repository.map { Array($0.images.keys).sorted() } ?? []
            guard let digest = digests.randomElement(using: &random) else { return next(for: state) }
            return (scope, .tagImage(repository: name, tag: pick(Self.tags), digest: digest))
        case 84..<90:
            return (scope, .untagImage(repository: name, tag: pick(Self.tags), pruneUntaggedImage: chance(0.5)))
        case 90..<94:
            let digests = repository.map { Array($0.images.keys).sorted() } ?? []
            let digest = digests.randomElement(using: &random) ?? Self.fakeDigest("missing")
            if chance(0.3) {
                let second = chance(0.8) ? digests.randomElement(using: &random) ?? digest : Self.fakeDigest("missing")
                return (scope, .expireImages(repository: name, digests: unique([digest, second])))
            }
            if chance(0.1) {
                return (
                    scope,
                    .setLifecyclePreview(
                        repository: name, policy: chance(0.5) ? LifecyclePolicy(stored: "{\"rules\":[]}") : nil)
                )
            }
            return (scope, .deleteManifest(repository: name, digest: digest))
        case 94..<95:
            if chance(0.2) {
                return (scope, .setClock(offsetMilliseconds: Int64.random(in: -5000...5000, using: &random)))
            }
            if chance(0.2) {
                return (
                    scope,
                    .refuseRequest(upload: uploads.first?.id, repository: name, request: "PATCH of an ended upload")
                )
            }
            if chance(0.15) {
                return (
                    scope,
                    .configure(
                        Switches(
                            referrers: chance(0.5), deletes: chance(0.5), warning: chance(0.5) ? "w" : nil,
                            rateLimit: chance(0.5) ? 5 : nil))
                )
            }
            if chance(0.15) {
                return (
                    scope,
                    .injectFault(
                        upload: uploads.first?.id, repository: name, request: "PATCH of an upload",
                        answer: "fault 1: 503")
                )
            }
            return (scope, .reset(extent: chance(0.5) ? .scope : .everything))
        default:
            return (scope, .checkpoint(name: CheckpointName(pick(["before", "after", "baseline"]))!))
        }
    }

    private mutating func registryChange() -> RegistrySettingChange {
        let prefix = pick(["team", "base", "ROOT"])
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return .policy(chance(0.7) ? "{}" : nil)
        case 1:
            return .replication(
                chance(0.8) ? ReplicationConfiguration(rules: [.init(destinations: [pick(Self.scopes)])]) : nil)
        case 2:
            return .scanning(
                ScanningConfiguration(rules: [
                    .init(scanFrequency: pick(ScanFrequency.allCases), repositoryFilters: ["*"])
                ]))
        case 3: return .registerPullTimeUpdateExclusion(principal: pick(["arn:a", "arn:b"]), limit: 2)
        case 4: return .deregisterPullTimeUpdateExclusion(principal: pick(["arn:a", "arn:b"]))
        case 5:
            return .createCreationTemplate(
                prefix: prefix,
                fields: CreationTemplate.Fields(
                    tagMutability: pick(TagMutability.allCases), appliedFor: [.createOnPush]))
        case 6: return .updateCreationTemplate(prefix: prefix, changes: CreationTemplate.Fields(description: "d"))
        default: return .deleteCreationTemplate(prefix: prefix)
        }
    }

    private mutating func makeManifest(in repository: Repository?) -> Manifest {
        manifestCounter += 1
        let linked = repository.map { Array($0.blobs.keys).sorted() } ?? []
        let images = repository.map { Array($0.images.keys).sorted() } ?? []
        // Mostly blobs the repository has; sometimes one it lacks.
        var layers = (0..<Int.random(in: 1...3, using: &random)).compactMap { _ in
            chance(0.9) ? linked.randomElement(using: &random) : pick(Self.blobs)
        }
        if layers.isEmpty { layers = [pick(Self.blobs)] }
        let isIndex = !images.isEmpty && chance(0.15)
        let subject = !images.isEmpty && chance(0.25) ? images.randomElement(using: &random) : nil
        let content = "{\"n\":\(manifestCounter),\"layers\":\"\(layers.map(\.rawValue))\"}"
        let references = ManifestReferences(
            config: isIndex
                ? nil : Descriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: layers[0], size: 10),
            layers: isIndex
                ? []
                : layers.dropFirst().map {
                    Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $0, size: 10)
                },
            manifests: isIndex
                ? [
                    Descriptor(
                        mediaType: "application/vnd.oci.image.manifest.v1+json",
                        digest: images.randomElement(using: &random)!, size: 100)
                ] : [],
            subject: subject,
            artifactType: subject != nil ? "application/vnd.example.sig" : nil)
        return Manifest(
            digest: Self.fakeDigest(content),
            mediaType: isIndex
                ? "application/vnd.oci.image.index.v1+json" : "application/vnd.oci.image.manifest.v1+json",
            content: content, references: references)
    }

    private func unique(_ list: [Digest]) -> [Digest] {
        var seen = Set<Digest>()
        return list.filter { seen.insert($0).inserted }
    }

    private mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &random) < p }

    private mutating func pick<T>(_ items: [T]) -> T { items.randomElement(using: &random)! }

    /// Folds `count` random commands from `seed` into envelopes and the states after each;
    /// refused commands are kept with their error.
    public static func history(seed: UInt64, count: Int) -> [(
        envelope: Envelope, refusal: RegistryError?, state: RegistryState
    )] {
        var generator = CommandGenerator(seed: seed)
        var state = RegistryState()
        var history: [(Envelope, RegistryError?, RegistryState)] = []
        for i in 1...count {
            let (scope, command) = generator.next(for: state)
            let envelope = Envelope(
                sequence: UInt64(i), time: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(i) * 1000),
                scope: scope, command: command)
            do {
                try state.apply(envelope)
                history.append((envelope, nil, state))
            } catch {
                history.append((envelope, error, state))
            }
        }
        return history
    }
}
