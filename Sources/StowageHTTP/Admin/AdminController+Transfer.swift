import FoundationEssentials
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension AdminController {
    /// `GET /_admin/export[?blobs=false]`: one versioned file of the registry and its blobs.
    func exportRegistry(_ request: Request) async throws -> Response {
        if request.uri.queryParameters["history"] == "true" { return try await exportRecording(request) }
        let withBlobs = request.uri.queryParameters["blobs"].map { $0 != "false" } ?? true
        let state = store.state
        var blobs: [Digest: [UInt8]]? = nil
        if withBlobs {
            var collected: [Digest: [UInt8]] = [:]
            for digest in ExportFormat.exportable(state).linkedBlobs {
                collected[digest] = try readBlob(digest)
            }
            blobs = collected
        }
        return Self.download(
            try ExportFormat.encode(state, blobs: blobs), type: "application/vnd.stowage.export.v1",
            name: "registry.stowage")
    }

    /// A file to save.
    private static func download(_ bytes: [UInt8], type: String, name: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(name)\""],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `GET /_admin/export?history=true[&since=]`: a recording, the history since a point (default:
    /// the oldest the history kept can rebuild) with the blobs linked anywhere in it.
    private func exportRecording(_ request: Request) async throws -> Response {
        var since: UInt64?
        if let text = request.uri.queryParameters["since"].map(String.init) {
            since = try await resolve(text, "since").sequence
        }
        var recording: Recording
        do { recording = try await store.recording(since: since) } catch let error as RegistryStore.HistoryError {
            throw AdminError(.gone, "HistoryUnavailable", error.description)
        }
        // Blobs collected since (deleted, then garbage-collected) are left out: reads of them at
        // the points that linked them answer that the content is missing.
        for digest in recording.blobsEverLinked where store.content.blobSize(digest) != nil {
            recording.blobs[digest] = try readBlob(digest)
        }
        return Self.download(
            try RecordingFormat.encode(recording), type: "application/vnd.stowage.recording.v1",
            name: "history.stowage-recording")
    }

    private func readBlob(_ digest: Digest) throws -> [UInt8] {
        let reader: any BlobReader
        do { reader = try store.content.openBlob(digest) } catch {
            throw AdminError(
                .conflict, "BlobMissing",
                "blob \(digest) is linked but its content is missing; export with ?blobs=false")
        }
        defer { reader.close() }
        var bytes = [UInt8](repeating: 0, count: Int(reader.size))
        let n = try bytes.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        guard n == bytes.count else {
            throw AdminError(.conflict, "BlobMissing", "blob \(digest) is shorter than recorded")
        }
        return bytes
    }

    /// `POST /_admin/import`: an export file, validated completely, then swapped in as one command.
    /// `?format=oci-layout&repository=<name>`: a tar of an OCI image layout, pushed into a repository.
    func importRegistry(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let limit = configuration.maxImportBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw AdminError(
                .contentTooLarge, "TooLarge", "the file is \(length) bytes; the limit is \(limit) (--max-import-bytes)")
        }
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: limit) } catch {
            throw AdminError(
                .contentTooLarge, "TooLarge", "the file is larger than the limit of \(limit) bytes (--max-import-bytes)"
            )
        }
        let bytes = Array(body.readableBytesView)
        if request.uri.queryParameters["format"] == "oci-layout" {
            return try await importLayout(request, bytes)
        }
        let imported: Importer.Imported
        do {
            imported = try await importer.importExport(
                bytes, limit: configuration.maxImportBytes.multipliedReportingOverflow(by: 4).partialValue)
        } catch let error as Importer.Failure {
            throw AdminError(.badRequest, "InvalidImport", "the import was refused and nothing changed: \(error)")
        }
        struct Body: Encodable {
            var sequence: UInt64
            var repositories: Int
            var images: Int
            var blobs: Int
        }
        return try JSONResponse.make(
            Body(
                sequence: imported.sequence, repositories: imported.repositories, images: imported.images,
                blobs: imported.blobs))
    }

    /// Pushes the images of an OCI image layout tar (as `skopeo copy ... oci-archive:` writes) into a repository.
    private func importLayout(_ request: Request, _ bytes: [UInt8]) async throws -> Response {
        guard let raw = request.uri.queryParameters["repository"].map(String.init), let name = RepositoryName(raw)
        else {
            throw AdminError(
                .badRequest, "InvalidName", "an OCI layout import needs ?repository=<a valid repository name>")
        }
        let scope = try scope(request)
        let pushed: Importer.Pushed
        do {
            pushed = try await importer.importLayout(try OCILayout(tar: bytes), into: name, scope: scope)
        } catch let error as Importer.Failure {
            throw AdminError(.badRequest, "InvalidImport", "the OCI layout was refused and nothing changed: \(error)")
        } catch let error as OCILayout.Failure {
            throw AdminError(.badRequest, "InvalidImport", "the OCI layout was refused and nothing changed: \(error)")
        } catch let error as RegistryError {
            throw AdminError(error)
        }
        struct Move: Encodable {
            var tag: String
            /// What the tag named before the import; absent for a new tag.
            var from: String?
            var to: String
        }
        struct Body: Encodable {
            var repository: String
            var manifests: [String]
            var tags: [String]
            /// The tags this import created or moved, with what they named before.
            var moved: [Move]
            var blobs: Int
            var sequence: UInt64
        }
        return try JSONResponse.make(
            Body(
                repository: name.rawValue, manifests: pushed.manifests.map(\.rawValue),
                tags: pushed.tags.map(\.rawValue),
                moved: pushed.moved.map { Move(tag: $0.tag.rawValue, from: $0.from?.rawValue, to: $0.to.rawValue) },
                blobs: pushed.blobs, sequence: pushed.sequence),
            status: .created)
    }
}
