import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// The layer API: the same uploads as `/v2` (``Ingest``), in parts.
extension ECRCall {
    static let layerOperations: [ECRAction: Operation] = [
        .initiateLayerUpload: { try await $0.initiateLayerUpload() },
        .uploadLayerPart: { try await $0.uploadLayerPart() },
        .completeLayerUpload: { try await $0.completeLayerUpload() },
        .batchCheckLayerAvailability: { try $0.batchCheckLayerAvailability() },
        .getDownloadUrlForLayer: { try $0.getDownloadUrlForLayer() },
    ]

    /// The part size ECR suggests; every part but the last must be at least `minimumPart`.
    static let partSize: Int64 = 10 << 20
    static let minimumPart: Int64 = 5 << 20

    /// The upload id of the request, or `UploadNotFoundException`.
    func uploadID(in name: RepositoryName) throws -> UploadID {
        let text = try input.text("uploadId")
        guard let id = UploadID(text) else { throw uploadNotFound(text, in: name) }
        return id
    }

    func uploadNotFound(_ id: String, in name: RepositoryName) -> ECRError {
        ECRError(.uploadNotFound, "The upload with id '\(id)' does not exist in the repository with name '\(name)'")
    }

    struct UploadOutput: Encodable {
        var registryId: String
        var repositoryName: String
        var uploadId: String
        var lastByteReceived: Int64?
        var layerDigest: String?
    }

    func initiateLayerUpload() async throws -> some Encodable {
        struct Output: Encodable {
            var uploadId: String
            var partSize: Int64
        }
        let name = try input.repositoryName()
        let id = try await controller.ingest.begin(in: name, scope: scope)
        return Output(uploadId: id.rawValue, partSize: Self.partSize)
    }

    /// `UploadLayerPart`: `partFirstByte` must continue the upload, else `InvalidLayerPartException`
    /// with `lastValidByteReceived` (the part is logged as refused).
    func uploadLayerPart() async throws -> UploadOutput {
        let name = try input.repositoryName()
        let id = try uploadID(in: name)
        let first = try input.integer("partFirstByte", range: 0...Int64.max, required: true)!
        let last = try input.integer("partLastByte", range: 0...Int64.max, required: true)!
        guard let encoded = try input.string("layerPartBlob", required: true), let bytes = Data(base64Encoded: encoded)
        else {
            throw ECRInput.invalid("layerPartBlob", "Member must be base64-encoded bytes")
        }
        let upload = try layerUpload(id, in: name)
        guard first != upload.size || (last >= first && last - first == Int64(bytes.count) - 1 && !bytes.isEmpty) else {
            throw ECRError(
                .invalidLayerPart,
                "partFirstByte \(first) and partLastByte \(last) do not describe the \(bytes.count) bytes sent",
                fields: .init(
                    registryId: registryId, repositoryName: name.rawValue, uploadId: id.rawValue,
                    lastValidByteReceived: upload.size - 1))
        }
        let size: Int64
        do {
            size = try await controller.ingest.append(
                .bytes(Array(bytes)), to: id, in: name, scope: scope, at: first)
        } catch RegistryError.chunkOutOfOrder(_, let expected, let offset) {
            throw ECRError(
                .invalidLayerPart, "The part starts at byte \(offset), but the upload stands at byte \(expected)",
                fields: .init(
                    registryId: registryId, repositoryName: name.rawValue, uploadId: id.rawValue,
                    lastValidByteReceived: expected - 1))
        } catch RegistryError.uploadNotFound {
            throw uploadNotFound(id.rawValue, in: name)
        }
        return UploadOutput(
            registryId: registryId, repositoryName: name.rawValue, uploadId: id.rawValue, lastByteReceived: size - 1)
    }

    /// The upload in flight in the repository, or the exception that says why not.
    private func layerUpload(_ id: UploadID, in name: RepositoryName) throws -> Upload {
        do { return try controller.ingest.upload(id, in: name, scope: scope) } catch .uploadNotFound {
            throw uploadNotFound(id.rawValue, in: name)
        } catch {
            throw ECRError(error, scope: scope)
        }
    }

    /// `CompleteLayerUpload`: refused as ECR refuses it (no parts, a part before the last under
    /// 5 MiB, a layer already there — which also ends the upload), decided by the writer.
    func completeLayerUpload() async throws -> UploadOutput {
        let name = try input.repositoryName()
        let id = try uploadID(in: name)
        guard let text = try input.strings("layerDigests", count: 1...100, required: true)?.first,
            let claimed = Digest(text)
        else { throw ECRInput.invalid("layerDigests", "Member must be a list of valid digests") }
        _ = try layerUpload(id, in: name)
        let digest: Digest
        do {
            (digest, _) = try await controller.ingest.complete(
                id, in: name, scope: scope, claimed: claimed, rules: LayerUploadRules(minimumPartSize: Self.minimumPart)
            )
        } catch RegistryError.layerAlreadyExists(let repository, let layer) {
            try await controller.ingest.cancel(id, in: name, scope: scope)
            throw ECRError(RegistryError.layerAlreadyExists(repository, layer), scope: scope)
        } catch RegistryError.uploadNotFound {
            throw uploadNotFound(id.rawValue, in: name)
        }
        return UploadOutput(
            registryId: registryId, repositoryName: name.rawValue, uploadId: id.rawValue, layerDigest: digest.rawValue)
    }

    func batchCheckLayerAvailability() throws -> some Encodable {
        struct Layer: Encodable {
            var layerDigest: String
            var layerAvailability = "AVAILABLE"
            var layerSize: Int64
            var mediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
        }
        struct Failure: Encodable {
            var layerDigest: String
            var failureCode: String
            var failureReason: String
        }
        struct Output: Encodable {
            var layers: [Layer]
            var failures: [Failure]
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        let digests = try input.strings("layerDigests", count: 1...100, required: true)!
        var output = Output(layers: [], failures: [])
        for text in digests {
            guard let digest = Digest(text) else {
                output.failures.append(
                    Failure(layerDigest: text, failureCode: "InvalidLayerDigest", failureReason: "Invalid layer digest")
                )
                continue
            }
            if let size = repository.blobs[digest] {
                output.layers.append(Layer(layerDigest: digest.rawValue, layerSize: size))
            } else {
                output.failures.append(
                    Failure(
                        layerDigest: digest.rawValue, failureCode: "MissingLayerDigest",
                        failureReason: "Could not find layer"))
            }
        }
        return output
    }

    /// `GetDownloadUrlForLayer`: a URL on this server, signed for an hour, that serves the blob without a login.
    func getDownloadUrlForLayer() throws -> some Encodable {
        struct Output: Encodable {
            var downloadUrl: String
            var layerDigest: String
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let text = try input.string("layerDigest", required: true), let digest = Digest(text) else {
            throw ECRInput.invalid("layerDigest", "Member must be a valid digest")
        }
        guard repository.blobs[digest] != nil else {
            throw ECRError(.layersNotFound, "The following layers were not found: \(digest)")
        }
        let query = controller.tokens.signDownload(scope: scope, name: name, digest: digest)
        return Output(
            downloadUrl: "http://\(controller.address.authority(seenBy: seenAs))/v2/\(name)/blobs/\(digest)?\(query)",
            layerDigest: digest.rawValue)
    }
}
