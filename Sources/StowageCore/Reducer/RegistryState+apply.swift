import HashTreeCollections

/// The reducer: the only way a ``RegistryState`` changes.
///
/// Every case first checks everything it needs and throws without touching the state, then
/// mutates in place. No clock, no randomness, no I/O: replaying the same envelopes always
/// gives the same state.
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
            guard self[scope].repositories[name] == nil else { throw .repositoryAlreadyExists(name) }
            scopes[scope, default: ScopeState()].repositories[name] = Repository(
                name: name, createdAt: time, settings: settings)

        case .deleteRepository(let name, let force):
            let repository = try self.repository(name, in: scope)
            guard force || repository.images.isEmpty else {
                throw .repositoryNotEmpty(name, images: repository.images.count)
            }
            let uploads = self[scope].uploads.values.filter { $0.repository == name }.map(\.id)
            modifyScope(scope) { state in
                state.repositories[name] = nil
                for id in uploads { state.uploads[id] = nil }
            }

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
        case .tagRepository(let name, let tags):
            try modifySettings(name, in: scope) { settings in
                for tag in tags {
                    if let i = settings.resourceTags.firstIndex(where: { $0.key == tag.key }) {
                        settings.resourceTags[i].value = tag.value
                    } else {
                        settings.resourceTags.append(tag)
                    }
                }
            }
        case .untagRepository(let name, let keys):
            try modifySettings(name, in: scope) { $0.resourceTags.removeAll { keys.contains($0.key) } }

        case .changeRegistrySettings(let change):
            let current = self[scope].registry ?? RegistrySettings()
            switch change {
            case .registerPullTimeUpdateExclusion(let principal)
            where current.pullTimeUpdateExclusions[principal] != nil:
                throw .settingAlreadyExists("pull-time update exclusion \(principal)")
            case .deregisterPullTimeUpdateExclusion(let principal)
            where current.pullTimeUpdateExclusions[principal] == nil:
                throw .settingNotFound("pull-time update exclusion \(principal)")
            default:
                break
            }
            modifyScope(scope) { state in
                var settings = state.registry ?? RegistrySettings()
                switch change {
                case .policy(let text): settings.policy = text
                case .replication(let text): settings.replication = text
                case .scanning(let text): settings.scanning = text
                case .signing(let text): settings.signing = text
                case .accountSetting(let name, let value): settings.accountSettings[name] = value
                case .registerPullTimeUpdateExclusion(let principal):
                    settings.pullTimeUpdateExclusions[principal] = time
                case .deregisterPullTimeUpdateExclusion(let principal):
                    settings.pullTimeUpdateExclusions[principal] = nil
                case .seedScanFindings(let digest, let findings):
                    var seeds = settings.scanFindingSeeds ?? [:]
                    seeds[digest] = findings.isEmpty ? nil : findings
                    settings.scanFindingSeeds = seeds.isEmpty ? nil : seeds
                case .creationTemplate(let prefix, let template):
                    var templates = settings.creationTemplates ?? [:]
                    templates[prefix] = template
                    settings.creationTemplates = templates.isEmpty ? nil : templates
                case .pullThroughRule(let prefix, let rule):
                    var rules = settings.pullThroughRules ?? [:]
                    rules[prefix] = rule
                    settings.pullThroughRules = rules.isEmpty ? nil : rules
                }
                state.registry = settings
            }

        case .startUpload(let id, let name):
            _ = try repository(name, in: scope)
            guard self[scope].uploads[id] == nil else { throw .uploadAlreadyExists(id) }
            modifyScope(scope) { $0.uploads[id] = Upload(id: id, repository: name, startedAt: time) }

        case .appendChunk(let id, let name, let offset, let length):
            let upload = try self.upload(id, of: name, in: scope)
            guard length >= 0 else { throw .invalidChunkLength(id, length: length) }
            guard offset == upload.size else {
                throw .chunkOutOfOrder(id, expectedOffset: upload.size, offset: offset)
            }
            modifyScope(scope) { state in
                var upload = state.uploads[id]!
                if let previous = upload.lastChunkLength {
                    upload.smallestEarlierChunk = min(upload.smallestEarlierChunk ?? previous, previous)
                }
                upload.size += length
                upload.chunks += 1
                upload.lastChunkLength = length
                state.uploads[id] = upload
            }

        case .commitUpload(let id, let name, let claimed, let computed, let size):
            let upload = try self.upload(id, of: name, in: scope)
            guard claimed == computed else { throw .digestMismatch(id, claimed: claimed, computed: computed) }
            guard size == upload.size else { throw .sizeMismatch(id, expected: upload.size, size: size) }
            modifyScope(scope) {
                $0.uploads[id] = nil
                $0.repositories[name]!.blobs[computed] = size
            }

        case .cancelUpload(let id, let name):
            _ = try self.upload(id, of: name, in: scope)
            modifyScope(scope) { $0.uploads[id] = nil }

        case .putBlob(let name, let digest, let size):
            _ = try repository(name, in: scope)
            modifyRepository(name, in: scope) { $0.blobs[digest] = size }

        case .mountBlob(let name, let digest, let source):
            _ = try repository(name, in: scope)
            guard let size = try repository(source, in: scope).blobs[digest] else {
                throw .blobNotFound(source, digest)
            }
            modifyRepository(name, in: scope) { $0.blobs[digest] = size }

        case .deleteBlobLink(let name, let digest):
            guard try repository(name, in: scope).blobs[digest] != nil else { throw .blobNotFound(name, digest) }
            modifyRepository(name, in: scope) { $0.blobs[digest] = nil }

        case .putManifest(let name, let manifest, let tag):
            let repository = try self.repository(name, in: scope)
            let references = manifest.references
            let missingBlobs = unique(references.blobs.map(\.digest).filter { repository.blobs[$0] == nil })
            let missingManifests = unique(references.manifests.map(\.digest).filter { repository.images[$0] == nil })
            guard missingBlobs.isEmpty && missingManifests.isEmpty else {
                throw .manifestReferencesMissing(name, blobs: missingBlobs, manifests: missingManifests)
            }
            if let tag { try repository.checkTagMove(tag, to: manifest.digest) }
            modifyRepository(name, in: scope) { repository in
                if repository.images[manifest.digest] == nil {
                    repository.images[manifest.digest] = Image(manifest: manifest, pushedAt: time)
                    if let subject = references.subject {
                        repository.referrers[subject, default: []].insertSorted(manifest.digest)
                    }
                }
                if let tag { repository.point(tag, at: manifest.digest) }
            }

        case .tagImage(let name, let tag, let digest):
            let repository = try self.repository(name, in: scope)
            guard repository.images[digest] != nil else { throw .manifestNotFound(name, reference: digest.rawValue) }
            try repository.checkTagMove(tag, to: digest)
            modifyRepository(name, in: scope) { $0.point(tag, at: digest) }

        case .untagImage(let name, let tag, let prune):
            guard let digest = try repository(name, in: scope).tags[tag] else { throw .tagNotFound(name, tag) }
            modifyRepository(name, in: scope) { repository in
                repository.tags[tag] = nil
                repository.images[digest]!.tags.remove(tag)
                if prune && repository.images[digest]!.tags.isEmpty { repository.removeImage(digest) }
            }

        case .deleteManifest(let name, let digest):
            guard try repository(name, in: scope).images[digest] != nil else {
                throw .manifestNotFound(name, reference: digest.rawValue)
            }
            modifyRepository(name, in: scope) { $0.removeImage(digest) }

        case .setImageArchived(let name, let digest, let archived):
            guard try repository(name, in: scope).images[digest] != nil else {
                throw .manifestNotFound(name, reference: digest.rawValue)
            }
            modifyRepository(name, in: scope) { $0.images[digest]!.archived = archived ? true : nil }

        case .recordImageScan(let name, let digest, let findings):
            guard try repository(name, in: scope).images[digest] != nil else {
                throw .manifestNotFound(name, reference: digest.rawValue)
            }
            modifyRepository(name, in: scope) {
                $0.images[digest]!.scan = ImageScan(completedAt: time, findings: findings)
            }

        case .expireImages(let name, let digests):
            let repository = try repository(name, in: scope)
            for digest in digests where repository.images[digest] == nil {
                throw .manifestNotFound(name, reference: digest.rawValue)
            }
            modifyRepository(name, in: scope) { repository in
                for digest in digests { repository.removeImage(digest) }
            }

        case .reset(.everything):
            scopes = [:]
        case .reset(.scope):
            scopes[scope] = nil

        case .checkpoint(let name):
            checkpoints[name] = Checkpoint(name: name, sequence: envelope.sequence, time: time)

        case .restore(let point, _):
            guard let target = points(point) else { throw .pointUnavailable(point) }
            let kept = checkpoints
            scopes = target.scopes
            checkpoints = kept
            for scope in Array(scopes.keys) where !scopes[scope]!.uploads.isEmpty {
                scopes[scope]!.uploads = [:]
            }
        }
        sequence = envelope.sequence
        self.time = time
    }

    // MARK: Checks (read only)

    private func repository(_ name: RepositoryName, in scope: Scope) throws(RegistryError) -> Repository {
        guard let repository = scopes[scope]?.repositories[name] else { throw .repositoryNotFound(name) }
        return repository
    }

    private func upload(_ id: UploadID, of name: RepositoryName, in scope: Scope) throws(RegistryError) -> Upload {
        _ = try repository(name, in: scope)
        guard let upload = scopes[scope]?.uploads[id], upload.repository == name else { throw .uploadNotFound(id) }
        return upload
    }

    // MARK: In-place mutation (after every check passed)

    private mutating func modifyScope(_ scope: Scope, _ body: (inout ScopeState) -> Void) {
        body(&scopes[scope, default: ScopeState()])
    }

    private mutating func modifyRepository(_ name: RepositoryName, in scope: Scope, _ body: (inout Repository) -> Void)
    {
        body(&scopes[scope]![name]!)
    }

    private mutating func modifySettings(
        _ name: RepositoryName, in scope: Scope, _ body: (inout RepositorySettings) -> Void
    ) throws(RegistryError) {
        _ = try repository(name, in: scope)
        modifyRepository(name, in: scope) { body(&$0.settings) }
    }
}

extension ScopeState {
    fileprivate subscript(name: RepositoryName) -> Repository? {
        get { repositories[name] }
        _modify { yield &repositories[name] }
    }
}

extension Repository {
    /// Throws when moving `tag` to `digest` is forbidden by the tag mutability settings.
    func checkTagMove(_ tag: Tag, to digest: Digest) throws(RegistryError) {
        if let current = tags[tag], current != digest, settings.isImmutable(tag) {
            throw .tagImmutable(name, tag, current: current)
        }
    }

    /// Points `tag` at `digest`, taking it off the image it was on. The old image stays.
    mutating func point(_ tag: Tag, at digest: Digest) {
        let previous = tags.updateValue(digest, forKey: tag)
        guard previous != digest else { return }
        if let previous { images[previous]!.tags.remove(tag) }
        images[digest]!.tags.insert(tag)
    }

    /// Removes an image, its tags and its entry in the referrers index.
    mutating func removeImage(_ digest: Digest) {
        guard let image = images.removeValue(forKey: digest) else { return }
        for tag in image.tags { tags[tag] = nil }
        if let subject = image.manifest.references.subject {
            referrers[subject]?.removeSorted(digest)
            if referrers[subject]?.isEmpty == true { referrers[subject] = nil }
        }
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
