import Foundation
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension AdminController {
    /// `GET /_admin/export[?blobs=false]`: one versioned file of the registry and its blobs.
    func exportRegistry(_ request: Request) throws -> Response {
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
        let bytes = try ExportFormat.encode(state, blobs: blobs)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/vnd.stowage.export.v1",
                .contentDisposition: "attachment; filename=\"registry.stowage\"",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
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
        for digest in contents.blobs.keys { await store.pin(digest) }
        defer { Task { for digest in contents.blobs.keys { await store.unpin(digest) } } }
        for (digest, blob) in contents.blobs { try store.content.writeBlob(digest, blob) }
        let envelope = try await store.restore(imported: contents.state, bytes: Int64(bytes.count))
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
        if store.state[scope].repositories[name] == nil {
            _ = try await submit(.createRepository(name: name, settings: .init()), scope: scope)
        }
        for (digest, blob) in plan.blobs {
            await store.pin(digest)
            try store.content.writeBlob(digest, blob)
            _ = try await submit(.putBlob(repository: name, digest: digest, size: Int64(blob.count)), scope: scope)
            await store.unpin(digest)
        }
        var tags: [String] = []
        for step in plan.manifests {
            _ = try await submit(.putManifest(repository: name, manifest: step.manifest, tag: step.tag), scope: scope)
            if let tag = step.tag { tags.append(tag.rawValue) }
        }
        struct Body: Encodable {
            var repository: String
            var manifests: [String]
            var tags: [String]
            var blobs: Int
        }
        return try JSONResponse.make(
            Body(
                repository: name.rawValue, manifests: plan.manifests.map(\.manifest.digest.rawValue), tags: tags,
                blobs: plan.blobs.count),
            status: .created)
    }
}

/// An OCI image layout read from a tar archive.
struct OCILayout {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// What to push: blobs, then manifests with children before their index.
    struct Plan {
        var blobs: [(Digest, [UInt8])]
        var manifests: [(manifest: Manifest, tag: Tag?)]
    }

    var files: [String: [UInt8]]

    init(tar: [UInt8]) throws {
        var bytes = tar
        if bytes.starts(with: [0x1F, 0x8B]) {
            bytes = try Zlib.decompress(bytes, limit: 1 << 32, gzip: true)
        }
        files = try TarReader.files(bytes)
        guard files["oci-layout"] != nil, files["index.json"] != nil else {
            throw Failure(description: "the archive is not an OCI image layout (no oci-layout or index.json)")
        }
    }

    func blob(_ digest: Digest) throws -> [UInt8] {
        guard let bytes = files["blobs/\(digest.algorithm.rawValue)/\(digest.hex)"] else {
            throw Failure(description: "blob \(digest) is named but not in the archive")
        }
        guard ContentDigester.digest(bytes, digest.algorithm) == digest else {
            throw Failure(description: "blob \(digest) does not have that digest")
        }
        return bytes
    }

    func plan() throws -> Plan {
        guard let index = try? JSON.parse(files["index.json"]!) as? [String: Any],
            let entries = index["manifests"] as? [[String: Any]]
        else { throw Failure(description: "index.json is not an image index") }
        var blobs: [Digest: [UInt8]] = [:]
        var manifests: [(Manifest, Tag?)] = []
        var seen: Set<Digest> = []
        func add(_ digest: Digest, tag: Tag?) throws {
            let bytes = try blob(digest)
            let parsed: (mediaType: String, references: ManifestReferences)
            do { parsed = try ManifestParser.parse(bytes, contentType: nil) } catch {
                throw Failure(description: "manifest \(digest): \(error.errors.first?.message ?? "invalid")")
            }
            for child in parsed.references.manifests where !seen.contains(child.digest) {
                try add(child.digest, tag: nil)
            }
            for descriptor in parsed.references.blobs { blobs[descriptor.digest] = try blob(descriptor.digest) }
            if seen.insert(digest).inserted || tag != nil {
                manifests.append(
                    (
                        Manifest(
                            digest: digest, mediaType: parsed.mediaType,
                            content: String(decoding: bytes, as: UTF8.self), references: parsed.references), tag
                    ))
            }
        }
        for entry in entries {
            guard let text = entry["digest"] as? String, let digest = Digest(text) else {
                throw Failure(description: "index.json names an invalid digest")
            }
            var tag: Tag? = nil
            if let annotations = entry["annotations"] as? [String: String],
                let ref = annotations["org.opencontainers.image.ref.name"]
            {
                tag = Tag(ref) ?? ref.split(separator: ":").last.flatMap { Tag(String($0)) }
            }
            try add(digest, tag: tag)
        }
        return Plan(blobs: blobs.sorted { $0.key < $1.key }, manifests: manifests)
    }
}

/// Reads the regular files of a tar archive (ustar, pax and GNU long names).
enum TarReader {
    static func files(_ bytes: [UInt8]) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        var offset = 0
        var longName: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            func field(_ start: Int, _ length: Int) -> String {
                let slice = header[(offset + start)..<(offset + start + length)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let size = Int(field(124, 12).trimmingCharacters(in: .whitespaces), radix: 8) else {
                throw OCILayout.Failure(description: "a tar header at offset \(offset) is damaged")
            }
            let type = header[offset + 156]
            let prefix = field(345, 155)
            var name = longName ?? (prefix.isEmpty ? field(0, 100) : prefix + "/" + field(0, 100))
            longName = nil
            let dataStart = offset + 512
            guard dataStart + size <= bytes.count else {
                throw OCILayout.Failure(description: "the tar archive is truncated")
            }
            let data = Array(bytes[dataStart..<(dataStart + size)])
            switch type {
            case UInt8(ascii: "L"):
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    if let range = line.range(of: " path=") { longName = String(line[range.upperBound...]) }
                }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                while name.hasPrefix("./") { name.removeFirst(2) }
                files[name] = data
            default:
                break
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        return files
    }
}
