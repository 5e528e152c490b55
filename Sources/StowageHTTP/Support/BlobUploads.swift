import Foundation
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

/// Blob uploads, shared by `/v2` and the ECR layer API: the same sessions, spools and commands,
/// so an upload started one way can be continued and seen the other.
struct BlobUploads: Sendable {
    let store: RegistryStore
    let sessions: UploadSessions

    /// Writes a chunk's bytes into a spool at an offset, hashing as it goes; returns the bytes written.
    typealias ChunkWriter = @Sendable (any SpoolWriter, Int64, inout ContentDigester) async throws -> Int64

    /// Starts an upload: an empty spool, then the logged command.
    func begin(_ name: RepositoryName, in scope: Scope) async throws -> UploadID {
        let id = UploadID(randomUUID())!
        try store.content.createSpool(id)
        do {
            try await store.submit(.startUpload(id: id, repository: name), scope: scope)
        } catch {
            store.content.removeSpool(id)
            throw error
        }
        return id
    }

    /// Appends one chunk and logs it; returns the upload's new size. On any failure the spool is
    /// cut back to where the upload stood.
    func append(_ upload: Upload, in scope: Scope, write: ChunkWriter) async throws -> Int64 {
        var session = try await sessions.acquire(upload.id, size: upload.size)
        do {
            let writer = try store.content.openSpool(upload.id)
            defer { writer.close() }
            let added = try await write(writer, upload.size, &session.digester)
            try await store.submit(
                .appendChunk(upload: upload.id, repository: upload.repository, offset: upload.size, length: added),
                scope: scope)
            session.size = upload.size + added
            await sessions.release(upload.id, session)
            return session.size
        } catch {
            try? store.content.truncateSpool(upload.id, to: upload.size)
            await sessions.forget(upload.id)
            throw error
        }
    }

    /// Appends an optional last chunk, then commits the upload as the blob `claimed`: a wrong
    /// digest is refused (and logged) with the upload left usable for a retry.
    func complete(_ upload: Upload, in scope: Scope, claimed: Digest, lastChunk: ChunkWriter? = nil) async throws -> (
        Digest, Int64
    ) {
        var session = try await sessions.acquire(upload.id, size: upload.size, algorithm: claimed.algorithm)
        var size = upload.size
        // The last chunk's command is logged together with the commit: one fsync, not two.
        var pending: [Command] = []
        if let lastChunk {
            do {
                let writer = try store.content.openSpool(upload.id)
                defer { writer.close() }
                let added = try await lastChunk(writer, size, &session.digester)
                if added > 0 {
                    pending.append(
                        .appendChunk(upload: upload.id, repository: upload.repository, offset: size, length: added))
                    size += added
                    session.size = size
                }
            } catch {
                try? store.content.truncateSpool(upload.id, to: size)
                await sessions.forget(upload.id)
                throw error
            }
        }
        let computed = session.digester.finalize()
        let commit = Command.commitUpload(
            upload: upload.id, repository: upload.repository, claimed: claimed, computed: computed, size: size)
        guard computed == claimed else {
            await sessions.release(upload.id, session)
            // The reducer refuses the commit: the refusal is history, and the upload (with the
            // chunk) stays usable for a retry.
            do { _ = try await store.submit(pending + [commit], scope: scope) } catch RegistryError.digestMismatch {
            } catch {
                try? store.content.truncateSpool(upload.id, to: upload.size)
                await sessions.forget(upload.id)
                throw error
            }
            throw RegistryError.digestMismatch(upload.id, claimed: claimed, computed: computed)
        }
        await store.pin(computed)
        do {
            try store.content.commitSpool(upload.id, size: size, as: computed)
            _ = try await store.submit(pending + [commit], scope: scope)
        } catch {
            await store.unpin(computed)
            await sessions.forget(upload.id)
            throw error
        }
        await store.unpin(computed)
        await sessions.forget(upload.id)
        return (computed, size)
    }

    /// Cancels an upload and drops its bytes.
    func cancel(_ upload: Upload, in scope: Scope) async throws {
        try await store.submit(.cancelUpload(upload: upload.id, repository: upload.repository), scope: scope)
        store.content.removeSpool(upload.id)
        await sessions.forget(upload.id)
    }

    /// A chunk writer that streams a request body of `length` bytes when the request declares it.
    static func body(_ body: RequestBody, length: Int64? = nil) -> ChunkWriter {
        { writer, offset, digester in
            if let length { writer.reserve(length, at: offset) }
            var written: Int64 = 0
            for try await buffer in body {
                try buffer.withUnsafeReadableBytes { bytes in
                    try writer.write(bytes, at: offset + written)
                    digester.update(bytes)
                }
                written += Int64(buffer.readableBytes)
            }
            return written
        }
    }

    /// A chunk writer for bytes already in memory (an ECR layer part).
    static func bytes(_ bytes: [UInt8]) -> ChunkWriter {
        { writer, offset, digester in
            try bytes.withUnsafeBytes { raw in
                try writer.write(raw, at: offset)
                digester.update(raw)
            }
            return Int64(bytes.count)
        }
    }
}
