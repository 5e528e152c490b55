import HashTreeCollections

extension RegistryState {
    mutating func startUpload(_ id: UploadID, in name: RepositoryName, scope: Scope, at time: Timestamp)
        throws(RegistryError)
    {
        _ = try repository(name, in: scope)
        guard self[scope].uploads[id] == nil else { throw .uploadAlreadyExists(id) }
        modifyScope(scope) { $0.uploads[id] = Upload(id: id, repository: name, startedAt: time) }
    }

    mutating func appendChunk(
        to id: UploadID, in name: RepositoryName, scope: Scope, offset: Int64, length: Int64, at time: Timestamp
    ) throws(RegistryError) {
        let upload = try self.upload(id, of: name, in: scope)
        guard length >= 0 else { throw .invalidChunkLength(id, length: length) }
        guard offset == upload.size else { throw .chunkOutOfOrder(id, expectedOffset: upload.size, offset: offset) }
        guard upload.size <= Int64.max - length else { throw .invalidChunkLength(id, length: length) }
        modifyScope(scope) { state in
            var upload = state.uploads[id]!
            if let previous = upload.lastChunkLength {
                upload.smallestEarlierChunk = min(upload.smallestEarlierChunk ?? previous, previous)
            }
            upload.size += length
            upload.chunks += 1
            upload.lastChunkLength = length
            upload.touchedAt = time
            state.uploads[id] = upload
        }
    }

    mutating func commitUpload(
        _ id: UploadID, in name: RepositoryName, scope: Scope, claimed: Digest, computed: Digest, size: Int64,
        rules: LayerUploadRules?
    ) throws(RegistryError) {
        let upload = try self.upload(id, of: name, in: scope)
        if let rules { try check(rules, committing: upload, as: claimed, in: scope) }
        guard claimed == computed else { throw .digestMismatch(id, claimed: claimed, computed: computed) }
        guard size == upload.size else { throw .sizeMismatch(id, expected: upload.size, size: size) }
        modifyScope(scope) {
            $0.uploads[id] = nil
            $0.repositories[name]!.blobs[computed] = size
        }
    }

    /// The uploads nobody touched for `timeout` milliseconds of the clock at `now`, as the commands
    /// that end them, in order of account-region and id.
    public func expiredUploads(at now: Timestamp, timeout milliseconds: Int64) -> [(scope: Scope, command: Command)] {
        var ended: [(Scope, Command)] = []
        for (scope, scoped) in scopes.sorted(by: { $0.key < $1.key }) {
            for upload in scoped.uploads.values.sorted(by: { $0.id < $1.id })
            where now.millisecondsSinceEpoch - upload.lastTouched.millisecondsSinceEpoch >= milliseconds {
                ended.append((scope, .endUpload(upload: upload.id, repository: upload.repository, reason: .expired)))
            }
        }
        return ended
    }

    /// Throws when committing `upload` as the layer `claimed` breaks ECR's `CompleteLayerUpload` rules.
    public func check(_ rules: LayerUploadRules, committing upload: Upload, as claimed: Digest, in scope: Scope)
        throws(RegistryError)
    {
        guard upload.size > 0 else { throw .emptyUpload(upload.id) }
        if let smallest = upload.smallestEarlierChunk, smallest < rules.minimumPartSize {
            throw .partTooSmall(upload.id, size: smallest, minimum: rules.minimumPartSize)
        }
        if try repository(upload.repository, in: scope).blobs[claimed] != nil {
            throw .layerAlreadyExists(upload.repository, claimed)
        }
    }

    mutating func mountBlob(_ digest: Digest, into name: RepositoryName, from source: RepositoryName?, in scope: Scope)
        throws(RegistryError)
    {
        _ = try repository(name, in: scope)
        let size: Int64
        if let source {
            guard let found = try repository(source, in: scope).blobs[digest] else {
                throw .blobNotFound(source, digest)
            }
            size = found
        } else {
            // Any repository of the account-region that has it; the first by name, so replay agrees.
            let holders = self[scope].repositories.values.filter { $0.blobs[digest] != nil }
            guard let holder = holders.min(by: { $0.name < $1.name }), let found = holder.blobs[digest] else {
                throw .blobNotFound(name, digest)
            }
            size = found
        }
        modifyRepository(name, in: scope) { $0.blobs[digest] = size }
    }
}
