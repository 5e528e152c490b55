import Foundation
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
        let contents: ExportFormat.Contents
        do {
            contents = try ExportFormat.decode(
                bytes, limit: configuration.maxImportBytes.multipliedReportingOverflow(by: 4).partialValue)
        } catch {
            if TarReader.looksLikeTar(bytes) {
                throw AdminError(
                    .badRequest, "InvalidImport",
                    "the import was refused and nothing changed: this is a tar archive, not a Stowage export; to push an OCI image layout tar into a repository, add ?format=oci-layout&repository=NAME (stowage import --oci-layout --repository NAME FILE)"
                )
            }
            throw AdminError(.badRequest, "InvalidImport", "the import was refused and nothing changed: \(error)")
        }
        if !contents.includesBlobs {
            let missing = contents.state.linkedBlobs.filter { store.content.blobSize($0) == nil }
            guard missing.isEmpty else {
                throw AdminError(
                    .badRequest, "InvalidImport",
                    "the import was refused and nothing changed: the file has no blobs and this registry lacks \(missing.count) of those it links, e.g. \(missing.sorted().first!)"
                )
            }
        }
        let envelope = try await ingest.ingest(verified: contents.blobs.map { ($0.key, $0.value) }) {
            try await store.restore(imported: contents.state, bytes: Int64(bytes.count))
        }
        let counts = contents.state.counts
        struct Body: Encodable {
            var sequence: UInt64
            var repositories: Int
            var images: Int
            var blobs: Int
        }
        return try JSONResponse.make(
            Body(
                sequence: envelope.sequence, repositories: counts.repositories, images: counts.images,
                blobs: contents.blobs.count))
    }

    /// Pushes the images of an OCI image layout tar (as `skopeo copy ... oci-archive:` writes) into a repository.
    private func importLayout(_ request: Request, _ bytes: [UInt8]) async throws -> Response {
        guard let raw = request.uri.queryParameters["repository"].map(String.init), let name = RepositoryName(raw)
        else {
            throw AdminError(
                .badRequest, "InvalidName", "an OCI layout import needs ?repository=<a valid repository name>")
        }
        let scope = try scope(request)
        let layout: OCILayout
        do { layout = try OCILayout(tar: bytes) } catch {
            throw AdminError(.badRequest, "InvalidImport", "the OCI layout was refused and nothing changed: \(error)")
        }
        let plan: OCILayout.Plan
        do { plan = try layout.plan() } catch {
            throw AdminError(.badRequest, "InvalidImport", "the OCI layout was refused and nothing changed: \(error)")
        }
        // The blobs and manifests are linked as one write, which creates the repository if it is missing.
        let commands =
            plan.blobs.map { Command.putBlob(repository: name, digest: $0.0, size: Int64($0.1.count)) }
            + plan.manifests.map { Command.putManifest(repository: name, manifest: $0.manifest, tag: $0.tag) }
        let written: RegistryStore.Written
        do {
            written = try await ingest.ingest(verified: plan.blobs) {
                try await store.submit(commands, scope: scope, creating: name, .onPush(always: true))
            }
        } catch let error as RegistryError {
            throw AdminError(error)
        }
        struct Move: Encodable {
            var tag: String
            /// What the tag named before the import; absent for a new tag.
            var from: String?
            var to: String
        }
        let before = written.before[scope].repositories[name]
        let after = written.after[scope].repositories[name]
        let moved = plan.manifests.compactMap(\.tag).compactMap { tag -> Move? in
            guard let to = after?.tags[tag], before?.tags[tag] != to else { return nil }
            return Move(tag: tag.rawValue, from: before?.tags[tag]?.rawValue, to: to.rawValue)
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
                repository: name.rawValue, manifests: plan.manifests.map(\.manifest.digest.rawValue),
                tags: plan.manifests.compactMap { $0.tag?.rawValue }, moved: moved, blobs: plan.blobs.count,
                sequence: written.envelopes.last?.sequence ?? store.sequence),
            status: .created)
    }
}
