import FoundationEssentials
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
        let query = request.uri.queryParameters
        return try await pushing(into: name) {
            if let mount = query["mount"].map(String.init) {
                let digest = try digest(mount)
                // From `from` when it names a repository, else (OCI 1.1, `from` absent) any that has the blob.
                let from = query["from"].map(String.init)
                let source = from.flatMap(RepositoryName.init)
                if from == nil || source != nil {
                    do {
                        try await store.submit(
                            [.mountBlob(repository: name, digest: digest, from: source)], scope: scope, creating: name,
                            pushCreation)
                        return Self.empty(
                            .created, [.location: "/v2/\(name)/blobs/\(digest)", .dockerContentDigest: digest.rawValue])
                    } catch RegistryError.blobNotFound {
                        // Not there to mount: an upload session instead, as the spec says.
                    } catch RegistryError.repositoryNotFound(let missing) where missing != name {}
                }
            } else if let claimed = query["digest"].map(String.init) {
                let (computed, _) = try await ingest.ingest(
                    blob: ByteSource(request), claimed: digest(claimed), into: name, scope: scope,
                    creation: pushCreation)
                return Self.empty(
                    .created, [.location: "/v2/\(name)/blobs/\(computed)", .dockerContentDigest: computed.rawValue])
            }
            var algorithm = Digest.Algorithm.sha256
            if let text = query["digest-algorithm"].map(String.init) {
                guard let chosen = Digest.Algorithm(rawValue: text) else {
                    throw OCIError(
                        .badRequest, .digestInvalid,
                        "digest-algorithm '\(text)' is not one this registry supports (sha256, sha512)")
                }
                algorithm = chosen
            }
            let id = try await ingest.begin(in: name, scope: scope, creation: pushCreation, algorithm: algorithm)
            var headers = uploadHeaders(name: name, id: id, size: 0)
            if let minimum = store.state.switches?.chunkMinLength ?? configuration.chunkMinLength {
                headers[.ociChunkMinLength] = String(minimum)
            }
            return Self.empty(.accepted, headers)
        }
    }

    /// `PATCH /v2/<name>/blobs/uploads/<id>`: one more chunk, streamed to the spool.
    func patchUpload(_ request: Request, scope: Scope, name rawName: String, id rawID: String) async throws -> Response
    {
        let (name, id) = try uploadAddress(name: rawName, id: rawID)
        let size = try await uploadRequest(request, scope, name, id) {
            try await ingest.append(ByteSource(request), to: id, in: name, scope: scope, at: try chunkStart(request))
        }
        return Self.empty(.accepted, uploadHeaders(name: name, id: id, size: size))
    }

    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=`: an optional last chunk, then the commit.
    func completeUpload(_ request: Request, scope: Scope, name rawName: String, id rawID: String) async throws
        -> Response
    {
        let (name, id) = try uploadAddress(name: rawName, id: rawID)
        let (computed, _) = try await uploadRequest(request, scope, name, id) {
            guard let raw = request.uri.queryParameters["digest"].map(String.init) else {
                throw OCIError(
                    .badRequest, .digestInvalid, "the digest query parameter is required to complete an upload")
            }
            return try await ingest.complete(
                id, in: name, scope: scope, claimed: try digest(raw), lastChunk: ByteSource(request),
                at: try chunkStart(request))
        }
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
        let (name, id) = try uploadAddress(name: rawName, id: rawID)
        try await uploadRequest(nil, scope, name, id) { try await ingest.cancel(id, in: name, scope: scope) }
        return Self.empty(.noContent)
    }

    // MARK: Helpers

    /// The upload if it is in flight in this repository; `BLOB_UPLOAD_UNKNOWN` otherwise, whatever the reason.
    private func uploadInFlight(scope: Scope, name rawName: String, id rawID: String) throws(OCIError) -> (
        RepositoryName, Upload
    ) {
        let (name, id) = try uploadAddress(name: rawName, id: rawID)
        _ = try repository(name, in: scope)
        guard let upload = store.state[scope].upload(id, in: name) else { throw Self.unknownUpload(rawID, name) }
        return (name, upload)
    }

    /// A repository name and an upload id from a path.
    private func uploadAddress(name rawName: String, id rawID: String) throws(OCIError) -> (RepositoryName, UploadID) {
        let name = try repositoryName(rawName)
        guard let id = UploadID(rawID) else { throw Self.unknownUpload(rawID, name) }
        return (name, id)
    }

    private static func unknownUpload(_ id: String, _ name: RepositoryName) -> OCIError {
        OCIError(.notFound, .blobUploadUnknown, "upload '\(id)' is not in progress in repository '\(name)'")
    }

    /// Runs a request on an upload. A chunk out of order is answered with the upload's current
    /// `Range`; a request refused before it reached the engine (no such upload, a malformed digest
    /// or `Content-Range`) is logged as a refusal that names the upload, so its history shows it;
    /// and every refusal names the upload's story on this server (`detail.story`).
    private func uploadRequest<T>(
        _ request: Request?, _ scope: Scope, _ name: RepositoryName, _ id: UploadID, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch RegistryError.chunkOutOfOrder(_, let expected, let offset) {
            var failure = OCIError(RegistryError.chunkOutOfOrder(id, expectedOffset: expected, offset: offset))
            failure.headers = uploadHeaders(name: name, id: id, size: expected)
            throw failure.naming(id)
        } catch let error as RegistryError {
            if case .uploadNotFound = error {
                try await refused(request, scope, name, id, because: error)
                throw Self.unknownUpload(id.rawValue, name).naming(id)
            }
            throw OCIError(error).naming(id)
        } catch let failure as OCIError {
            try await refused(request, scope, name, id, because: .invalidRequest(failure.errors.first?.message ?? ""))
            throw failure.naming(id)
        }
    }

    /// Logs a request on upload `id` that the edge refused.
    private func refused(
        _ request: Request?, _ scope: Scope, _ name: RepositoryName, _ id: UploadID, because reason: RegistryError
    ) async throws {
        let what = request.map { "\($0.method) \($0.uri)" } ?? "DELETE of upload \(id)"
        try await store.recordRefusal(
            .refuseRequest(upload: id, repository: name, request: what), because: reason, scope: scope)
    }

    /// Where a chunk says it starts (`Content-Range`), checked against its `Content-Length`.
    private func chunkStart(_ request: Request) throws(OCIError) -> Int64? {
        guard let header = request.headers[.contentRange] else { return nil }
        guard let (start, end) = parseContentRange(header) else {
            throw OCIError(.badRequest, .blobUploadInvalid, "Content-Range '\(header)' is not '<start>-<end>'")
        }
        // Compared as `end - start`: `end - start + 1` overflows for a range ending at Int64.max.
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length - 1 != end - start {
            throw OCIError(
                .badRequest, .blobUploadInvalid,
                "Content-Range \(start)-\(end) does not cover the \(length) bytes of Content-Length")
        }
        return start
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
    var text = header.trimmingSpaces
    for prefix in ["bytes=", "bytes "] where text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let start = Int64(parts[0]), let end = Int64(parts[1]), start >= 0, end >= start - 1 else {
        return nil
    }
    return (start, end)
}
