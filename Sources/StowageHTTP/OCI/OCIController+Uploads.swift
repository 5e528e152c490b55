import Foundation
import HTTPTypes
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension OCIController {
    /// `POST /v2/<name>/blobs/uploads/`: a new session (202), a single-request upload with
    /// `?digest=` (201), or a cross-repository mount with `?mount=&from=` (201, else a new session).
    func startUpload(_ request: Request, scope: Scope, name rawName: String) async throws -> Response {
        let name = try repositoryName(rawName)
        _ = try await repositoryForPush(name, in: scope)
        let query = request.uri.queryParameters
        if let mount = query["mount"].map(String.init) {
            let digest = try digest(mount)
            if let source = mountSource(for: digest, from: query["from"].map(String.init), into: name, scope: scope) {
                try await store.submit(.mountBlob(repository: name, digest: digest, from: source), scope: scope)
                return Self.empty(
                    .created, [.location: "/v2/\(name)/blobs/\(digest)", .dockerContentDigest: digest.rawValue])
            }
        } else if let claimed = query["digest"].map(String.init) {
            return try await monolithicUpload(request, scope: scope, name: name, claimed: digest(claimed))
        }
        let id = try await uploads.begin(name, in: scope)
        return Self.empty(.accepted, uploadHeaders(name: name, id: id, size: 0))
    }

    /// Where a mount can take the blob from: `from` when it holds it, else (OCI 1.1, `from` absent)
    /// any repository of the account-region that does.
    private func mountSource(for digest: Digest, from: String?, into name: RepositoryName, scope: Scope)
        -> RepositoryName?
    {
        let state = store.state[scope]
        if let from {
            guard let source = RepositoryName(from), state.repositories[source]?.blobs[digest] != nil else {
                return nil
            }
            return source
        }
        return state.repositories.values.first { $0.blobs[digest] != nil }?.name
    }

    /// The whole blob in the POST body, checked against `claimed`, stored and linked at once.
    private func monolithicUpload(_ request: Request, scope: Scope, name: RepositoryName, claimed: Digest) async throws
        -> Response
    {
        let id = UploadID("mono-" + randomUUID())!
        try store.content.createSpool(id)
        var digester = ContentDigester(claimed.algorithm)
        let size: Int64
        do {
            let writer = try store.content.openSpool(id)
            defer { writer.close() }
            size = try await BlobUploads.body(request.body, length: declaredLength(request))(writer, 0, &digester)
        } catch {
            store.content.removeSpool(id)
            throw error
        }
        let computed = digester.finalize()
        guard computed == claimed else {
            store.content.removeSpool(id)
            throw OCIError(RegistryError.digestMismatch(nil, claimed: claimed, computed: computed))
        }
        await store.pin(computed)
        do {
            try store.content.commitSpool(id, size: size, as: computed)
            try await store.submit(.putBlob(repository: name, digest: computed, size: size), scope: scope)
        } catch {
            await store.unpin(computed)
            throw error
        }
        await store.unpin(computed)
        return Self.empty(
            .created, [.location: "/v2/\(name)/blobs/\(computed)", .dockerContentDigest: computed.rawValue])
    }

    /// `PATCH /v2/<name>/blobs/uploads/<id>`: one more chunk, streamed to the spool.
    func patchUpload(_ request: Request, scope: Scope, name rawName: String, id rawID: String) async throws -> Response
    {
        let (name, upload) = try uploadInFlight(scope: scope, name: rawName, id: rawID)
        if let header = request.headers[.contentRange] {
            guard let (start, end) = parseContentRange(header) else {
                throw OCIError(.badRequest, .blobUploadInvalid, "Content-Range '\(header)' is not '<start>-<end>'")
            }
            guard start == upload.size else {
                // Logged as a refusal so the upload's history shows the out-of-order chunk.
                _ = try? await store.submit(
                    .appendChunk(
                        upload: upload.id, repository: name, offset: start,
                        length: (end - start).addingReportingOverflow(1).partialValue),
                    scope: scope)
                var failure = OCIError(
                    RegistryError.chunkOutOfOrder(upload.id, expectedOffset: upload.size, offset: start))
                failure.headers = uploadHeaders(name: name, id: upload.id, size: upload.size)
                throw failure
            }
            // Compared as `end - start`: `end - start + 1` overflows for a range ending at Int64.max.
            if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length - 1 != end - start {
                throw OCIError(
                    .badRequest, .blobUploadInvalid,
                    "Content-Range \(start)-\(end) does not cover the \(length) bytes of Content-Length")
            }
        }
        let size = try await uploads.append(
            upload, in: scope, write: BlobUploads.body(request.body, length: declaredLength(request)))
        return Self.empty(.accepted, uploadHeaders(name: name, id: upload.id, size: size))
    }

    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=`: an optional last chunk, then the commit.
    func completeUpload(_ request: Request, scope: Scope, name rawName: String, id rawID: String) async throws
        -> Response
    {
        let (name, upload) = try uploadInFlight(scope: scope, name: rawName, id: rawID)
        guard let raw = request.uri.queryParameters["digest"].map(String.init) else {
            throw OCIError(.badRequest, .digestInvalid, "the digest query parameter is required to complete an upload")
        }
        let claimed = try digest(raw)
        let (computed, _) = try await uploads.complete(
            upload, in: scope, claimed: claimed,
            lastChunk: BlobUploads.body(request.body, length: declaredLength(request)))
        return Self.empty(
            .created, [.location: "/v2/\(name)/blobs/\(computed)", .dockerContentDigest: computed.rawValue])
    }

    /// `GET /v2/<name>/blobs/uploads/<id>`: where the upload stands.
    func uploadStatus(scope: Scope, name rawName: String, id rawID: String) throws -> Response {
        let (name, upload) = try uploadInFlight(scope: scope, name: rawName, id: rawID)
        return Self.empty(.noContent, uploadHeaders(name: name, id: upload.id, size: upload.size))
    }

    /// `DELETE /v2/<name>/blobs/uploads/<id>`: cancels the upload and drops its bytes.
    func cancelUpload(scope: Scope, name rawName: String, id rawID: String) async throws -> Response {
        let (_, upload) = try uploadInFlight(scope: scope, name: rawName, id: rawID)
        try await uploads.cancel(upload, in: scope)
        return Self.empty(.noContent)
    }

    // MARK: Helpers

    /// The upload if it is in flight in this repository; `BLOB_UPLOAD_UNKNOWN` otherwise, whatever the reason.
    private func uploadInFlight(scope: Scope, name rawName: String, id rawID: String) throws(OCIError) -> (
        RepositoryName, Upload
    ) {
        let name = try repositoryName(rawName)
        _ = try repository(name, in: scope)
        guard let id = UploadID(rawID), let upload = store.state[scope].upload(id, in: name) else {
            throw OCIError(
                .notFound, .blobUploadUnknown, "upload '\(rawID)' is not in progress in repository '\(name)'")
        }
        return (name, upload)
    }

    func uploadHeaders(name: RepositoryName, id: UploadID, size: Int64) -> HTTPFields {
        [
            .location: "/v2/\(name)/blobs/uploads/\(id)", .dockerUploadUUID: id.rawValue,
            .range: size > 0 ? "0-\(size - 1)" : "0-0",
        ]
    }
}

/// `<start>-<end>` (inclusive; a `bytes=` or `bytes ` prefix is tolerated).
func parseContentRange(_ header: String) -> (Int64, Int64)? {
    var text = Substring(header.trimmingCharacters(in: .whitespaces))
    for prefix in ["bytes=", "bytes "] where text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let start = Int64(parts[0]), let end = Int64(parts[1]), start >= 0, end >= start - 1 else {
        return nil
    }
    return (start, end)
}

/// The request's `Content-Length`, when it declares a sane one (a hint for reserving space).
func declaredLength(_ request: Request) -> Int64? {
    request.headers[.contentLength].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
}
