/// A manifest this registry does not store, and why.
public struct ManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Reads manifest bytes into what the reducer needs, refusing what is not a manifest we store.
public enum ManifestParser {
    /// The largest manifest accepted, as ECR: 4 MiB.
    public static let maximumSize = 4 << 20

    /// The media type and references of a manifest; `contentType` is the type the sender declared.
    public static func parse(_ bytes: [UInt8], contentType: String?) throws(ManifestError) -> (
        mediaType: String, references: ManifestReferences
    ) {
        guard String(validating: bytes, as: UTF8.self) != nil, let object = try? JSONValue.parse(bytes),
            object.objectValue != nil
        else { throw ManifestError("the manifest is not a JSON object") }
        guard let version = object["schemaVersion"] else {
            throw ManifestError("schemaVersion is missing; it must be 2 (Docker v2 or OCI manifests)")
        }
        guard version == .int(2) else {
            throw ManifestError(
                "schemaVersion \(version.text) is not supported; push schema 2 (Docker v2 or OCI) manifests")
        }
        if let member = object["mediaType"], member.stringValue == nil {
            throw ManifestError("mediaType must be a string")
        }
        let declared = object["mediaType"]?.stringValue
        let header = contentType?.split(separator: ";").first.map { trimmed($0) }
        // The manifest's own mediaType decides; without one, the type the sender declared.
        let mediaType: String
        if let declared {
            mediaType = declared
        } else if let header, ManifestMediaType.all.contains(header) {
            mediaType = header
        } else {
            throw ManifestError(
                "the manifest has no mediaType and the request names no manifest type (Content-Type \(header ?? "absent")); set either to an OCI image manifest or index, or a Docker v2 manifest or manifest list"
            )
        }
        guard ManifestMediaType.all.contains(mediaType) else {
            throw ManifestError(
                "media type \(mediaType) is not a manifest type this registry stores (OCI image manifest or index, Docker v2 manifest or manifest list)"
            )
        }
        if let header, let declared, ManifestMediaType.all.contains(header), header != declared {
            throw ManifestError("Content-Type \(header) does not match the manifest's mediaType \(declared)")
        }
        var references = ManifestReferences()
        if ManifestMediaType.images.contains(mediaType) {
            guard let config = object["config"] else {
                throw ManifestError("an image manifest needs a config descriptor")
            }
            references.config = try descriptor(config, "config")
            guard let layers = object["layers"]?.arrayValue else {
                throw ManifestError("an image manifest needs a layers array")
            }
            // Foreign (non-distributable) layers live elsewhere; the registry does not hold them.
            for (i, layer) in layers.enumerated() {
                let d = try descriptor(layer, "layers[\(i)]")
                let foreign =
                    d.mediaType.contains("foreign") || d.mediaType.contains("nondistributable") || layer["urls"] != nil
                if !foreign { references.layers.append(d) }
            }
        } else {
            guard let manifests = object["manifests"]?.arrayValue else {
                throw ManifestError("an index needs a manifests array")
            }
            for (i, m) in manifests.enumerated() { references.manifests.append(try descriptor(m, "manifests[\(i)]")) }
        }
        if let subject = object["subject"] { references.subject = try descriptor(subject, "subject").digest }
        if let artifactType = object["artifactType"] {
            guard let text = artifactType.stringValue else { throw ManifestError("artifactType must be a string") }
            references.artifactType = text
        }
        if let annotations = object["annotations"] {
            guard let members = annotations.objectValue,
                case let map = members.compactMapValues(\.stringValue), map.count == members.count
            else {
                throw ManifestError("annotations must map strings to strings")
            }
            references.annotations = map
        }
        return (mediaType, references)
    }

    private static func descriptor(_ value: JSONValue, _ field: String) throws(ManifestError) -> Descriptor {
        guard value.objectValue != nil else { throw ManifestError("\(field) is not a descriptor object") }
        guard let mediaType = value["mediaType"]?.stringValue else {
            throw ManifestError("\(field).mediaType must be a string")
        }
        guard let text = value["digest"]?.stringValue, let digest = Digest(text) else {
            throw ManifestError("\(field).digest must be a valid digest (sha256:<64 hex> or sha512:<128 hex>)")
        }
        guard case .int(let size)? = value["size"], size >= 0 else {
            throw ManifestError("\(field).size must be a non-negative integer")
        }
        return Descriptor(
            mediaType: mediaType, digest: digest, size: Int64(size), artifactType: value["artifactType"]?.stringValue)
    }

    private static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
