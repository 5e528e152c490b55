import HashTreeCollections

/// The reducer: the only way a ``RegistryState`` changes.
///
/// Every command first checks everything it needs and throws without touching the state, then
/// mutates in place. No clock, no randomness, no I/O: replaying the same envelopes always gives
/// the same state. The commands of each group live in their own file: repositories, uploads and
/// blobs, images, registry settings, and history (reset, checkpoints, restores).
extension RegistryState {
    /// Applies one command, or throws and leaves the state exactly as it was.
    ///
    /// - Parameter points: the stored states a ``Command/restore(point:cause:)`` may name, by
    ///   sequence number. Only restores consult it; the engine and replay pass the same points,
    ///   so replaying a restore gives the same state.
    public mutating func apply(
        _ envelope: Envelope, points: (UInt64) -> RegistryState? = { _ in nil }
    ) throws(RegistryError) {
        let scope = envelope.scope
        let time = envelope.time
        switch envelope.command {
        case .createRepository(let name, let settings):
            try createRepository(name, settings: settings, in: scope, at: time)
        case .deleteRepository(let name, let force):
            try deleteRepository(name, force: force, in: scope)
        case .setTagMutability(let name, let mutability, let exclusions):
            try modifySettings(name, in: scope) {
                $0.tagMutability = mutability
                $0.mutabilityExclusions = exclusions
            }
        case .setScanOnPush(let name, let scanOnPush):
            try modifySettings(name, in: scope) { $0.scanOnPush = scanOnPush }
        case .setRepositoryPolicy(let name, let policy):
            try modifySettings(name, in: scope) { $0.policy = policy }
        case .setLifecyclePolicy(let name, let policy):
            try modifySettings(name, in: scope) { $0.lifecyclePolicy = policy }
        case .setLifecyclePreview(let name, let policy):
            try modifySettings(name, in: scope) { $0.lifecyclePreview = policy }
        case .tagRepository(let name, let tags, let limit):
            try tagRepository(name, with: tags, limit: limit, in: scope)
        case .untagRepository(let name, let keys):
            try modifySettings(name, in: scope) { $0.resourceTags.removeAll { keys.contains($0.key) } }
        case .changeRegistrySettings(let change):
            try changeRegistrySettings(change, in: scope, at: time)

        case .startUpload(let id, let name):
            try startUpload(id, in: name, scope: scope, at: time)
        case .appendChunk(let id, let name, let offset, let length):
            try appendChunk(to: id, in: name, scope: scope, offset: offset, length: length, at: time)
        case .commitUpload(let id, let name, let claimed, let computed, let size, let rules):
            try commitUpload(id, in: name, scope: scope, claimed: claimed, computed: computed, size: size, rules: rules)
        case .cancelUpload(let id, let name), .endUpload(let id, let name, _):
            _ = try upload(id, of: name, in: scope)
            modifyScope(scope) { $0.uploads[id] = nil }
        case .putBlob(let name, let digest, let size):
            _ = try repository(name, in: scope)
            modifyRepository(name, in: scope) { $0.blobs[digest] = size }
        case .mountBlob(let name, let digest, let source):
            try mountBlob(digest, into: name, from: source, in: scope)
        case .deleteBlobLink(let name, let digest):
            guard try repository(name, in: scope).blobs[digest] != nil else { throw .blobNotFound(name, digest) }
            modifyRepository(name, in: scope) { $0.blobs[digest] = nil }

        case .putManifest(let name, let manifest, let tag, let options):
            try putManifest(
                manifest, tags: Command.tags(tag, options), in: name, scope: scope, at: time, options: options)
        case .tagImage(let name, let tag, let digest):
            let repository = try repository(name, in: scope)
            guard repository.images[digest] != nil else { throw .manifestNotFound(name, reference: digest.rawValue) }
            try repository.checkTagMove(tag, to: digest)
            modifyRepository(name, in: scope) { $0.point(tag, at: digest) }
        case .untagImage(let name, let tag, let prune):
            try untagImage(tag, in: name, scope: scope, pruneUntaggedImage: prune)
        case .deleteManifest(let name, let digest, let refuseIfReferenced):
            try deleteManifest(digest, in: name, scope: scope, refuseIfReferenced: refuseIfReferenced ?? false)
        case .setImageArchived(let name, let digest, let archived):
            try modifyImage(digest, in: name, scope: scope) { $0.archived = archived ? true : nil }
        case .recordImageScan(let name, let digest, let findings):
            try modifyImage(digest, in: name, scope: scope) {
                $0.scan = ImageScan(completedAt: time, findings: findings)
            }
        case .expireImages(let name, let digests, _):
            try expireImages(digests, in: name, scope: scope)

        case .reset(.everything):
            scopes = [:]
        case .reset(.scope):
            scopes[scope] = nil
        case .checkpoint(let name):
            checkpoints[name] = Checkpoint(name: name, sequence: envelope.sequence, time: time)
        case .restore(let point, _):
            try restore(point, points: points)
        case .setClock(let offset):
            clockOffset = offset == 0 ? nil : offset
        case .refuseRequest(_, _, let request):
            throw .invalidRequest(request)
        case .configure(let switches):
            self.switches = switches == Switches() ? nil : switches
        case .injectFault:
            break
        }
        sequence = envelope.sequence
        self.time = time
    }

    // MARK: Checks (read only)

    func repository(_ name: RepositoryName, in scope: Scope) throws(RegistryError) -> Repository {
        guard let repository = scopes[scope]?.repositories[name] else { throw .repositoryNotFound(name) }
        return repository
    }

    func upload(_ id: UploadID, of name: RepositoryName, in scope: Scope) throws(RegistryError) -> Upload {
        _ = try repository(name, in: scope)
        guard let upload = scopes[scope]?.uploads[id], upload.repository == name else { throw .uploadNotFound(id) }
        return upload
    }

    // MARK: In-place mutation (after every check passed)

    mutating func modifyScope(_ scope: Scope, _ body: (inout ScopeState) -> Void) {
        body(&scopes[scope, default: ScopeState()])
    }

    mutating func modifyRepository(_ name: RepositoryName, in scope: Scope, _ body: (inout Repository) -> Void) {
        body(&scopes[scope]!.repositories[name]!)
    }

    mutating func modifySettings(
        _ name: RepositoryName, in scope: Scope, _ body: (inout RepositorySettings) -> Void
    ) throws(RegistryError) {
        _ = try repository(name, in: scope)
        modifyRepository(name, in: scope) { body(&$0.settings) }
    }

    mutating func modifyImage(
        _ digest: Digest, in name: RepositoryName, scope: Scope, _ body: (inout Image) -> Void
    ) throws(RegistryError) {
        guard try repository(name, in: scope).images[digest] != nil else {
            throw .manifestNotFound(name, reference: digest.rawValue)
        }
        modifyRepository(name, in: scope) { body(&$0.images[digest]!) }
    }
}

extension Array where Element: Comparable {
    /// Inserts into a sorted array, keeping it sorted and free of duplicates.
    mutating func insertSorted(_ element: Element) {
        let i = partitioningIndex { $0 >= element }
        if i == endIndex || self[i] != element { insert(element, at: i) }
    }

    /// Removes from a sorted array.
    mutating func removeSorted(_ element: Element) {
        let i = partitioningIndex { $0 >= element }
        if i != endIndex && self[i] == element { remove(at: i) }
    }

    /// The first index whose element satisfies `predicate`, which must be false then true along the array.
    public func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let mid = (low + high) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

/// The elements of `list` in order, each once.
func unique<T: Hashable>(_ list: [T]) -> [T] {
    var seen = Set<T>()
    return list.filter { seen.insert($0).inserted }
}
