import HashTreeCollections
public import StowageCore

/// How blob bytes enter the registry: uploads (begin, append, complete, cancel) and whole blobs.
/// One protocol, shared by `/v2`, the ECR layer API, the pull-through cache and imports:
///
/// - An upload's chunks stream into its spool, hashed as they come, one request at a time per
///   upload (another waits its turn, then finds the upload as the first left it). Only then is
///   the chunk logged (`appendChunk`), so the log never counts a byte the spool lacks.
/// - A commit stores the spool as its content-addressed blob (durably, keeping the spool), logs
///   the commit, then removes the spool: a crash at any point leaves either the upload whole or
///   the blob linked.
/// - Every blob is pinned from before its bytes are stored until the commands that link it are
///   logged or refused, so garbage collection never removes it in between (``linking(_:store:then:)``).
/// - Requests refused before the reducer sees them (a chunk at the wrong offset, a digest that is
///   not the bytes') are logged as refusals, so an upload's history shows them.
public struct Ingest: Sendable {
    public let store: RegistryStore
    let sessions = UploadSessions()
    let ids: any IDGenerator

    /// Spools of whole blobs are named with this prefix; they belong to the request streaming them.
    static let wholeBlobPrefix = "mono-"

    public init(store: RegistryStore, ids: any IDGenerator = RandomIDGenerator()) {
        self.store = store
        self.ids = ids
    }

    var content: any ContentStore { store.content }

    // MARK: Uploads

    /// Starts an upload in repository `name` (created first when `creation` allows); returns its
    /// id. Its bytes are hashed with `algorithm` as they come (another one at the commit costs a
    /// second pass over the spool).
    public func begin(
        in name: RepositoryName, scope: Scope, creation: RepositoryCreation = .never,
        algorithm: Digest.Algorithm = .sha256
    ) async throws -> UploadID {
        let id = ids.uploadID()
        try content.createSpool(id)
        do {
            try await store.submit([.startUpload(id: id, repository: name)], scope: scope, creating: name, creation)
        } catch {
            content.removeSpool(id)
            throw error
        }
        if algorithm != .sha256 { await sessions.prime(id, algorithm: algorithm) }
        return id
    }

    /// The upload `id` as it stands, if it is in flight in repository `name`.
    public func upload(_ id: UploadID, in name: RepositoryName, scope: Scope) throws(RegistryError) -> Upload {
        let state = store.state[scope]
        guard state.repositories[name] != nil else { throw .repositoryNotFound(name) }
        guard let upload = state.upload(id, in: name) else { throw .uploadNotFound(id) }
        return upload
    }

    /// Appends one chunk where the upload stands, or refuses it (logged) when the client says it
    /// starts at another `offset`. Returns the upload's new size.
    public func append(
        _ bytes: ByteSource, to id: UploadID, in name: RepositoryName, scope: Scope, at offset: Int64? = nil
    ) async throws -> Int64 {
        await sessions.acquire(id)
        let upload: Upload
        var session: UploadSessions.Session
        do {
            upload = try self.upload(id, in: name, scope: scope)
            try await refuseMisplaced(bytes, claiming: offset, for: upload, scope: scope)
            session = try await self.session(for: upload, algorithm: nil)
        } catch {
            await sessions.release(id)
            throw error
        }
        do {
            let added = try await write(bytes, into: upload, digester: &session.digester, sync: true)
            try await store.submit(
                .appendChunk(upload: id, repository: name, offset: upload.size, length: added), scope: scope)
            session.size = upload.size + added
            await sessions.release(id, keeping: session)
            return session.size
        } catch {
            cutBack(upload, scope: scope)
            await sessions.release(id, keeping: nil)
            throw error
        }
    }

    /// Appends an optional last chunk, then commits the upload as the blob `claimed`. A wrong
    /// digest is refused (and logged) with the upload left usable for a retry; with `rules`, the
    /// commit is refused as ECR's `CompleteLayerUpload` refuses one.
    public func complete(
        _ id: UploadID, in name: RepositoryName, scope: Scope, claimed: Digest, lastChunk: ByteSource? = nil,
        at offset: Int64? = nil, rules: LayerUploadRules? = nil
    ) async throws -> (digest: Digest, size: Int64) {
        await sessions.acquire(id)
        let upload: Upload
        var session: UploadSessions.Session
        do {
            upload = try self.upload(id, in: name, scope: scope)
            if let lastChunk { try await refuseMisplaced(lastChunk, claiming: offset, for: upload, scope: scope) }
            if let rules {
                do { try store.state.check(rules, committing: upload, as: claimed, in: scope) } catch {
                    try await store.recordRefusal(
                        .commitUpload(
                            upload: id, repository: name, claimed: claimed, computed: claimed, size: upload.size,
                            layerRules: rules), because: error, scope: scope)
                    throw error
                }
            }
            session = try await self.session(for: upload, algorithm: claimed.algorithm)
        } catch {
            await sessions.release(id)
            throw error
        }
        var size = upload.size
        // The last chunk's command is logged together with the commit: one fsync, not two.
        var pending: [Command] = []
        do {
            if let lastChunk {
                // Not synced here: the commit stores the spool durably, or (a wrong digest) it is synced below.
                let added = try await write(lastChunk, into: upload, digester: &session.digester, sync: false)
                if added > 0 {
                    pending.append(.appendChunk(upload: id, repository: name, offset: size, length: added))
                    size += added
                    session.size = size
                }
            }
        } catch {
            cutBack(upload, scope: scope)
            await sessions.release(id, keeping: nil)
            throw error
        }
        let computed = session.digester.finalize()
        let commit = Command.commitUpload(
            upload: id, repository: name, claimed: claimed, computed: computed, size: size, layerRules: rules)
        if computed != claimed {
            // The chunk stays (the upload is usable for a retry); the commit is refused, as history.
            let mismatch = RegistryError.digestMismatch(id, claimed: claimed, computed: computed)
            do {
                if !pending.isEmpty {
                    if store.configuration.fsync == .always { try content.openSpool(id).sync(entry: upload.size == 0) }
                    try await store.submit(pending, scope: scope)
                }
                try await store.recordRefusal(commit, because: mismatch, scope: scope)
            } catch {
                cutBack(upload, scope: scope)
                await sessions.release(id, keeping: nil)
                throw error
            }
            await sessions.release(id, keeping: session)
            throw mismatch
        }
        do {
            _ = try await linking([computed], store: { try content.storeSpool(id, size: size, as: computed) }) {
                try await store.submit(pending + [commit], scope: scope)
            }
        } catch {
            cutBack(upload, scope: scope)
            await sessions.release(id, keeping: nil)
            throw error
        }
        content.removeSpool(id)
        await sessions.release(id, keeping: nil)
        return (computed, size)
    }

    /// Cancels an upload and drops its bytes.
    public func cancel(_ id: UploadID, in name: RepositoryName, scope: Scope) async throws {
        await sessions.acquire(id)
        do {
            try await store.submit(.cancelUpload(upload: id, repository: name), scope: scope)
        } catch {
            await sessions.release(id)
            throw error
        }
        content.removeSpool(id)
        await sessions.release(id, keeping: nil)
    }

    // MARK: Whole blobs

    /// A blob that arrives in one piece (OCI's single `POST ?digest=`): streamed into a spool of its
    /// own, hashed, checked against `claimed`, stored and linked into `name` (created first when
    /// `creation` allows). Returns its digest and size.
    public func ingest(
        blob bytes: ByteSource, claimed: Digest, into name: RepositoryName, scope: Scope,
        creation: RepositoryCreation = .never
    ) async throws -> (digest: Digest, size: Int64) {
        // Before a byte is read: a blob for a repository that does not exist and will not be made.
        let state = store.state
        if state[scope].repositories[name] == nil && state.creation(of: name, in: scope, creation) == nil {
            throw RegistryError.repositoryNotFound(name)
        }
        let id = UploadID(Self.wholeBlobPrefix + ids.uploadID().rawValue)!
        try content.createSpool(id)
        do {
            var digester = ContentDigester(claimed.algorithm)
            let size = try await write(bytes, into: id, at: 0, digester: &digester, sync: false)
            let computed = digester.finalize()
            guard computed == claimed else {
                let mismatch = RegistryError.digestMismatch(nil, claimed: claimed, computed: computed)
                try await store.recordRefusal(
                    .putBlob(repository: name, digest: claimed, size: size), because: mismatch, scope: scope)
                throw mismatch
            }
            _ = try await linking([computed], store: { try content.storeSpool(id, size: size, as: computed) }) {
                try await store.submit(
                    [.putBlob(repository: name, digest: computed, size: size)], scope: scope, creating: name, creation)
            }
            content.removeSpool(id)
            return (computed, size)
        } catch {
            content.removeSpool(id)
            throw error
        }
    }

    /// Blobs already in memory whose digests the caller has checked (a pull-through fetch, an
    /// import): stored, then linked by what `log` submits, pinned all the while — with `stored`,
    /// blobs already in the store that `log` links too.
    public func ingest<T: Sendable>(
        verified blobs: [(Digest, [UInt8])], alsoLinking stored: [Digest] = [], then log: () async throws -> T
    ) async throws -> T {
        try await linking(
            blobs.map(\.0) + stored, store: { for (digest, bytes) in blobs { try content.writeBlob(digest, bytes) } },
            then: log)
    }

    /// The one sequence by which stored bytes become part of the registry: the digests are pinned
    /// before a byte is stored and stay pinned until `log` has logged (or failed to log) the
    /// commands that link them, so garbage collection can never remove a blob in between.
    func linking<T: Sendable>(_ digests: [Digest], store bytes: () throws -> Void, then log: () async throws -> T)
        async throws -> T
    {
        await store.pin(digests)
        do {
            try bytes()
            let result = try await log()
            await store.unpin(digests)
            return result
        } catch {
            // A blob stored for a link that was refused is linked nowhere.
            await store.unpin(digests)
            await store.noteGarbage()
            throw error
        }
    }

    // MARK: Helpers

    /// Refuses (and logs) a chunk whose client says it starts where the upload does not stand.
    private func refuseMisplaced(_ bytes: ByteSource, claiming offset: Int64?, for upload: Upload, scope: Scope)
        async throws
    {
        guard let offset, offset != upload.size else { return }
        let refusal = RegistryError.chunkOutOfOrder(upload.id, expectedOffset: upload.size, offset: offset)
        try await store.recordRefusal(
            .appendChunk(
                upload: upload.id, repository: upload.repository, offset: offset, length: bytes.declaredLength ?? 0),
            because: refusal, scope: scope)
        throw refusal
    }

    /// The running digest over the upload's bytes: kept from the last request, else read from its spool.
    /// With `algorithm` `nil`: whichever the upload was started with (sha256 unless it said otherwise).
    private func session(for upload: Upload, algorithm: Digest.Algorithm?) async throws -> UploadSessions.Session {
        if let kept = await sessions.session(upload.id, size: upload.size, algorithm: algorithm) { return kept }
        return try UploadSessions.rehash(upload.id, size: upload.size, algorithm: algorithm ?? .sha256, in: content)
    }

    /// Streams a chunk into the upload's spool where it stands; returns the bytes written.
    private func write(_ bytes: ByteSource, into upload: Upload, digester: inout ContentDigester, sync: Bool)
        async throws -> Int64
    {
        try await write(bytes, into: upload.id, at: upload.size, digester: &digester, sync: sync)
    }

    /// Streams bytes into a spool at `offset`; with `sync`, durably (see below).
    private func write(
        _ bytes: ByteSource, into id: UploadID, at offset: Int64, digester: inout ContentDigester, sync: Bool
    ) async throws -> Int64 {
        let writer = try content.openSpool(id)
        defer { writer.close() }
        if let length = bytes.declaredLength, length > 0 { writer.reserve(length, at: offset) }
        var written: Int64 = 0
        var running = digester
        try await bytes.forEach { run in
            try writer.write(run, at: offset + written)
            running.update(run)
            written += Int64(run.count)
        }
        // Under `--fsync always` the bytes (and, for a first chunk, the spool's name) are durable
        // before the record that counts them: a power cut never leaves the log ahead of the spool.
        if sync && store.configuration.fsync == .always && written > 0 { try writer.sync(entry: offset == 0) }
        digester = running
        return written
    }

    /// After a failed write: the spool cut back to what the log counts, if the upload is still in flight.
    private func cutBack(_ upload: Upload, scope: Scope) {
        guard let current = store.state[scope].upload(upload.id, in: upload.repository) else { return }
        try? content.truncateSpool(upload.id, to: current.size)
    }
}
