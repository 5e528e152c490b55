import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    /// The part size ECR suggests; every part but the last must be at least `minimumPart`.
    static let partSize: Int64 = 10 << 20
    static let minimumPart: Int64 = 5 << 20

    /// The upload in flight in the repository, or `UploadNotFoundException`.
    func uploadInFlight(_ name: RepositoryName) throws -> Upload {
        let text = try input.string("uploadId", required: true)!
        guard let id = UploadID(text), let upload = store.state[scope].upload(id, in: name) else {
            throw ECRError(
                .uploadNotFound, "The upload with id '\(text)' does not exist in the repository with name '\(name)'")
        }
        return upload
    }

    func initiateLayerUpload() async throws -> [String: Any] {
        let name = try input.repositoryName()
        _ = try repository(name)
        let id = try await controller.uploads.begin(name, in: scope)
        return ["uploadId": id.rawValue, "partSize": Self.partSize]
    }

    /// `UploadLayerPart`: `partFirstByte` must continue the upload, else `InvalidLayerPartException`
    /// with `lastValidByteReceived`.
    func uploadLayerPart() async throws -> [String: Any] {
        let name = try input.repositoryName()
        _ = try repository(name)
        let upload = try uploadInFlight(name)
        let first = try input.integer("partFirstByte", range: 0...Int64.max, required: true)!
        let last = try input.integer("partLastByte", range: 0...Int64.max, required: true)!
        guard let encoded = try input.string("layerPartBlob", required: true), let bytes = Data(base64Encoded: encoded)
        else {
            throw ECRInput.invalid("layerPartBlob", "Member must be base64-encoded bytes")
        }
        let refusal = { (reason: String) in
            ECRError(
                .invalidLayerPart, reason,
                fields: [
                    "registryId": registryId, "repositoryName": name.rawValue, "uploadId": upload.id.rawValue,
                    "lastValidByteReceived": upload.size - 1,
                ])
        }
        guard first == upload.size else {
            // Logged as a refusal, so the upload's history shows the part that did not fit.
            _ = try? await submit(
                .appendChunk(upload: upload.id, repository: name, offset: first, length: Int64(bytes.count)))
            throw refusal("The part starts at byte \(first), but the upload stands at byte \(upload.size)")
        }
        guard last >= first, last - first == Int64(bytes.count) - 1, !bytes.isEmpty else {
            throw refusal(
                "partFirstByte \(first) and partLastByte \(last) do not describe the \(bytes.count) bytes sent")
        }
        let size = try await controller.uploads.append(upload, in: scope, write: BlobUploads.bytes(Array(bytes)))
        return [
            "registryId": registryId, "repositoryName": name.rawValue, "uploadId": upload.id.rawValue,
            "lastByteReceived": size - 1,
        ]
    }

    func completeLayerUpload() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        let upload = try uploadInFlight(name)
        guard let digests = try input.list("layerDigests", count: 1...100, required: true) as? [String],
            let text = digests.first,
            let claimed = Digest(text)
        else { throw ECRInput.invalid("layerDigests", "Member must be a list of valid digests") }
        guard upload.size > 0 else {
            throw ECRError(
                .emptyUpload, "The upload with id '\(upload.id)' does not contain any layer parts",
                fields: ["uploadId": upload.id.rawValue])
        }
        if let smallest = upload.smallestEarlierChunk, smallest < Self.minimumPart {
            throw ECRError(
                .layerPartTooSmall,
                "Layer part size must be at least \(Self.minimumPart) bytes except for the last part; a part of \(smallest) bytes was sent",
                fields: ["uploadId": upload.id.rawValue])
        }
        if repository.blobs[claimed] != nil {
            try await controller.uploads.cancel(upload, in: scope)
            throw ECRError(
                .layerAlreadyExists,
                "The layer with digest '\(claimed)' already exists in the repository with name '\(name)' in registry with id '\(registryId)'"
            )
        }
        let (digest, _) = try await controller.uploads.complete(upload, in: scope, claimed: claimed)
        return [
            "registryId": registryId, "repositoryName": name.rawValue, "uploadId": upload.id.rawValue,
            "layerDigest": digest.rawValue,
        ]
    }

    func batchCheckLayerAvailability() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let digests = try input.list("layerDigests", count: 1...100, required: true) as? [String] else {
            throw ECRInput.invalid("layerDigests", "Member must be a list of strings")
        }
        var layers: [[String: Any]] = []
        var failures: [[String: Any]] = []
        for text in digests {
            guard let digest = Digest(text) else {
                failures.append([
                    "layerDigest": text, "failureCode": "InvalidLayerDigest", "failureReason": "Invalid layer digest",
                ])
                continue
            }
            if let size = repository.blobs[digest] {
                layers.append([
                    "layerDigest": digest.rawValue, "layerAvailability": "AVAILABLE", "layerSize": size,
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                ])
            } else {
                failures.append([
                    "layerDigest": digest.rawValue, "failureCode": "MissingLayerDigest",
                    "failureReason": "Could not find layer",
                ])
            }
        }
        return ["layers": layers, "failures": failures]
    }

    /// `GetDownloadUrlForLayer`: a URL on this server, signed for an hour, that serves the blob without a login.
    func getDownloadUrlForLayer() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let text = try input.string("layerDigest", required: true), let digest = Digest(text) else {
            throw ECRInput.invalid("layerDigest", "Member must be a valid digest")
        }
        guard repository.blobs[digest] != nil else {
            throw ECRError(.layersNotFound, "The following layers were not found: \(digest)")
        }
        let query = controller.tokens.signDownload(scope: scope, name: name, digest: digest)
        return [
            "downloadUrl": "http://\(controller.address.authority)/v2/\(name)/blobs/\(digest)?\(query)",
            "layerDigest": digest.rawValue,
        ]
    }
}
