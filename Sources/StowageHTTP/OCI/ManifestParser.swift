import Foundation
import HTTPTypes
import HashTreeCollections
import StowageCore

/// The manifest media types the registry stores.
enum ManifestMediaType {
    static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    static let ociIndex = "application/vnd.oci.image.index.v1+json"
    static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"

    static let images: Set<String> = [ociManifest, dockerManifest]
    static let indexes: Set<String> = [ociIndex, dockerList]
    static let all = images.union(indexes)
}

/// Parses manifest bytes into what the reducer needs, refusing what is not a manifest we store.
enum ManifestParser {
    /// The largest manifest accepted, as ECR: 4 MiB.
    static let maximumSize = 4 << 20

    static func parse(_ bytes: [UInt8], contentType: String?) throws(OCIError) -> (
        mediaType: String, references: ManifestReferences
    ) {
        guard String(validating: bytes, as: UTF8.self) != nil,
            let object = try? JSON.parse(bytes) as? [String: Any]
        else { throw invalid("the manifest is not a JSON object") }
        if let version = object["schemaVersion"] {
            guard (version as? Int) == 2 else {
                throw invalid("schemaVersion \(version) is not supported; push schema 2 (Docker v2 or OCI) manifests")
            }
        }
        let declared = object["mediaType"] as? String
        let header = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        let mediaType: String
        if let declared {
            mediaType = declared
        } else if let header, ManifestMediaType.all.contains(header) {
            mediaType = header
        } else if object["manifests"] != nil {
            mediaType = ManifestMediaType.ociIndex
        } else {
            mediaType = ManifestMediaType.ociManifest
        }
        guard ManifestMediaType.all.contains(mediaType) else {
            throw invalid(
                "media type \(mediaType) is not a manifest type this registry stores (OCI image manifest or index, Docker v2 manifest or manifest list)"
            )
        }
        if let header, let declared, ManifestMediaType.all.contains(header), header != declared {
            throw invalid("Content-Type \(header) does not match the manifest's mediaType \(declared)")
        }
        var references = ManifestReferences()
        if ManifestMediaType.images.contains(mediaType) {
            guard let config = object["config"] else { throw invalid("an image manifest needs a config descriptor") }
            references.config = try descriptor(config, "config")
            guard let layers = object["layers"] as? [Any] ?? (mediaType == ManifestMediaType.ociManifest ? [] : nil)
            else {
                throw invalid("an image manifest needs a layers array")
            }
            // Foreign (non-distributable) layers live elsewhere; the registry does not hold them.
            for (i, layer) in layers.enumerated() {
                let d = try descriptor(layer, "layers[\(i)]")
                let foreign =
                    d.mediaType.contains("foreign") || d.mediaType.contains("nondistributable")
                    || ((layer as? [String: Any])?["urls"] != nil)
                if !foreign { references.layers.append(d) }
            }
        } else {
            guard let manifests = object["manifests"] as? [Any] else {
                throw invalid("an index needs a manifests array")
            }
            for (i, m) in manifests.enumerated() { references.manifests.append(try descriptor(m, "manifests[\(i)]")) }
        }
        if let subject = object["subject"] { references.subject = try descriptor(subject, "subject").digest }
        if let artifactType = object["artifactType"] {
            guard let text = artifactType as? String else { throw invalid("artifactType must be a string") }
            references.artifactType = text
        }
        if let annotations = object["annotations"] {
            guard let map = annotations as? [String: String] else {
                throw invalid("annotations must map strings to strings")
            }
            references.annotations = map
        }
        return (mediaType, references)
    }

    private static func descriptor(_ value: Any, _ field: String) throws(OCIError) -> Descriptor {
        guard let object = value as? [String: Any] else { throw invalid("\(field) is not a descriptor object") }
        guard let mediaType = object["mediaType"] as? String else { throw invalid("\(field) has no mediaType") }
        guard let text = object["digest"] as? String, let digest = Digest(text) else {
            throw invalid("\(field) has no valid digest")
        }
        guard let size = object["size"] as? Int, size >= 0 else { throw invalid("\(field) has no valid size") }
        return Descriptor(
            mediaType: mediaType, digest: digest, size: Int64(size), artifactType: object["artifactType"] as? String)
    }

    private static func invalid(_ message: String) -> OCIError {
        OCIError(.badRequest, .manifestInvalid, message)
    }
}
