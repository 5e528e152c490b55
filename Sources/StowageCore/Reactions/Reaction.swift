import HashTreeCollections

/// A command that follows another once that one is durable: a scan on push, a replicated copy,
/// a lifecycle expiry. Decided by a pure function of the state (``RegistryState/reactions(to:following:)``);
/// the engine logs it like any command, so replay never decides it again.
public struct Reaction: Hashable, Sendable {
    /// Why the command follows.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// The repository's effective scan frequency is SCAN_ON_PUSH.
        case scanOnPush
        /// A replication rule covers the repository.
        case replication
        /// The repository's lifecycle policy expires images.
        case lifecycle
    }

    public var kind: Kind
    public var scope: Scope
    public var command: Command

    public init(_ kind: Kind, in scope: Scope, _ command: Command) {
        self.kind = kind
        self.scope = scope
        self.command = command
    }
}

extension RegistryState {
    /// What follows `envelope`, decided against this state (the state it was applied to, and
    /// anything applied since), following ECR:
    ///
    /// | trigger | reactions |
    /// |---|---|
    /// | `putManifest` | scan of the image when its repository scans on push (by its own setting or a registry scanning rule) and it is an image manifest; a copy to every replication destination whose rule covers the repository (not for a push that is itself a replicated copy); the repository's lifecycle policy |
    /// | `tagImage`, `untagImage` | the repository's lifecycle policy |
    /// | `setLifecyclePolicy` | the new policy |
    ///
    /// - Parameter cause: the kind of reaction `envelope` itself is, if it is one.
    public func reactions(to envelope: Envelope, following cause: Reaction.Kind? = nil) -> [Reaction] {
        let scope = envelope.scope
        switch envelope.command {
        case .putManifest(let name, let manifest, let tag, let options):
            var reactions: [Reaction] = []
            if let scan = scanOnPush(manifest.digest, in: name, scope: scope) { reactions.append(scan) }
            if cause != .replication {
                reactions += replicate(
                    manifest.digest, tags: Command.tags(tag, options), from: name, in: scope, at: envelope)
            }
            reactions += lifecycleReactions(in: name, scope: scope, at: envelope.time)
            return reactions
        case .tagImage(let name, _, _), .untagImage(let name, _, _), .setLifecyclePolicy(let name, .some):
            return lifecycleReactions(in: name, scope: scope, at: envelope.time)
        default:
            return []
        }
    }

    /// The lifecycle expirations due at `now` in every repository with a policy, one command per
    /// repository, in order of account-region and name.
    public func lifecycleReactions(at now: Timestamp) -> [Reaction] {
        var reactions: [Reaction] = []
        for (scope, scoped) in scopes.sorted(by: { $0.key < $1.key }) {
            for name in scoped.repositories.keys.sorted() {
                reactions += lifecycleReactions(in: name, scope: scope, at: now)
            }
        }
        return reactions
    }

    /// The images the repository's lifecycle policy expires at `now`, as one command (none when nothing expires).
    public func lifecycleReactions(in name: RepositoryName, scope: Scope, at now: Timestamp) -> [Reaction] {
        guard let repository = self[scope].repositories[name], let rules = repository.settings.lifecyclePolicy?.rules,
            !rules.isEmpty
        else { return [] }
        let expirations = repository.lifecycleExpirations(rules, now: now)
        guard !expirations.isEmpty else { return [] }
        let command = Command.expireImages(
            repository: name, digests: expirations.map(\.digest), rules: expirations.map(\.rulePriority))
        return [Reaction(.lifecycle, in: scope, command)]
    }

    // MARK: Scanning

    /// A repository's effective scan frequency: the first registry scanning rule whose filter
    /// matches its name, else its own scan-on-push setting, else manual; with the filters that decided it.
    public func scanFrequency(of repository: Repository, in scope: Scope) -> (
        frequency: ScanFrequency, filters: [String]
    ) {
        if let decided = self[scope].registry?.scanning?.frequency(for: repository.name) { return decided }
        return (repository.settings.scanOnPush ? .scanOnPush : .manual, [])
    }

    /// The scan that records what is seeded for the digest (nothing by default), when due on push.
    private func scanOnPush(_ digest: Digest, in name: RepositoryName, scope: Scope) -> Reaction? {
        guard let repository = self[scope].repositories[name], let image = repository.images[digest],
            image.manifest.isImageManifest, scanFrequency(of: repository, in: scope).frequency == .scanOnPush
        else { return nil }
        return Reaction(.scanOnPush, in: scope, scan(digest, in: name, scope: scope))
    }

    /// The command that scans an image now: it finds what was seeded for its digest.
    public func scan(_ digest: Digest, in name: RepositoryName, scope: Scope) -> Command {
        .recordImageScan(
            repository: name, digest: digest, findings: self[scope].registry?.scanFindingSeeds?[digest] ?? [])
    }

    // MARK: Replication

    /// The account-regions a push to `name` in `scope` is replicated to.
    public func replicationDestinations(for name: RepositoryName, in scope: Scope) -> [Scope] {
        self[scope].registry?.replication?.destinations(for: name, from: scope) ?? []
    }

    /// The commands that copy an image (children first, for an index) with its blob links and tag
    /// to each destination: the repository created there first if it is missing.
    private func replicate(
        _ digest: Digest, tags: [Tag], from name: RepositoryName, in scope: Scope, at envelope: Envelope
    ) -> [Reaction] {
        guard let source = self[scope].repositories[name] else { return [] }
        var reactions: [Reaction] = []
        for destination in replicationDestinations(for: name, in: scope) {
            // Each command is folded into a scratch state, so a child or blob is copied once.
            var scratch = self
            func add(_ command: Command) {
                var stamped = envelope
                (stamped.scope, stamped.command) = (destination, command)
                guard (try? scratch.apply(stamped)) != nil else { return }
                reactions.append(Reaction(.replication, in: destination, command))
            }
            func copy(_ digest: Digest, tags: [Tag]) {
                guard let image = source.images[digest] else { return }
                for child in image.manifest.references.manifests
                where scratch[destination].repositories[name]?.images[child.digest] == nil {
                    copy(child.digest, tags: [])
                }
                for blob in image.manifest.references.blobs
                where scratch[destination].repositories[name]?.blobs[blob.digest] == nil {
                    if let size = source.blobs[blob.digest] {
                        add(.putBlob(repository: name, digest: blob.digest, size: size))
                    }
                }
                let options = tags.count > 1 ? PutManifestOptions(moreTags: Array(tags.dropFirst())) : nil
                add(.putManifest(repository: name, manifest: image.manifest, tag: tags.first, options: options))
            }
            if let create = creation(of: name, in: destination, .replication) { add(create) }
            copy(digest, tags: tags)
        }
        return reactions
    }
}
