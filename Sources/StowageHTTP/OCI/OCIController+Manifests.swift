import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension OCIController {
    func reference(_ raw: String) throws(OCIError) -> Reference {
        guard let reference = Reference(raw) else {
            if raw.contains(":") { _ = try digest(raw) }
            throw OCIError(.badRequest, .tagInvalid, "'\(raw)' is not a valid tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})")
        }
        return reference
    }

    /// The reference of a read: one that is neither a tag nor a digest names nothing that can exist.
    func readReference(_ raw: String, in name: RepositoryName) throws(OCIError) -> Reference {
        guard let reference = Reference(raw) else {
            throw OCIError(
                .notFound, .manifestUnknown,
                "manifest '\(raw)' is not in repository '\(name)': it is neither a valid tag nor a valid digest",
                detail: ["reference": raw])
        }
        return reference
    }

    /// `GET`/`HEAD /v2/<name>/manifests/<reference>`: the exact bytes that were pushed.
    func getManifest(_ request: Request, scope: Scope, name rawName: String, reference rawReference: String)
        async throws -> Response
    {
        let name = try repositoryName(rawName)
        let reference = try readReference(rawReference, in: name)
        // Under a pull-through cache rule, what is not here yet is fetched from the upstream first.
        do { try await pullThrough.fetchIfCovered(name, reference, in: scope) } catch let failure
            as PullThroughCache.Failure
        {
            throw OCIError(
                .notFound, .manifestUnknown,
                "manifest '\(reference)' could not be fetched through the cache: \(failure)")
        }
        guard let image = try repository(name, in: scope).image(reference) else {
            throw OCIError(
                .notFound, .manifestUnknown, "manifest '\(reference)' is not in repository '\(name)'",
                detail: ["reference": rawReference])
        }
        let manifest = image.manifest
        if image.archived == true {
            throw OCIError(
                .notFound, .manifestUnknown,
                "manifest '\(reference)' is archived; restore it with ECR UpdateImageStorageClass STANDARD to pull it")
        }
        if case .tag = reference, !accepts(request.headers[.accept], manifest.mediaType) {
            throw OCIError(
                .notFound, .manifestUnknown,
                "tag '\(reference)' is a \(manifest.mediaType), which the request's Accept header does not list")
        }
        let headers: HTTPFields = [
            .contentType: manifest.mediaType, .dockerContentDigest: manifest.digest.rawValue,
            .contentLength: String(manifest.size), .eTag: "\"\(manifest.digest)\"",
        ]
        if request.method == .head { return Response(status: .ok, headers: headers) }
        pullTimes.record(scope, name, manifest.digest, at: store.clock.now())
        return Response(
            status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: manifest.content)))
    }

    /// Whether an `Accept` header admits `mediaType` (no header, or a wildcard, admits all).
    private func accepts(_ header: String?, _ mediaType: String) -> Bool {
        guard let header, !header.isEmpty else { return true }
        let types = header.split(separator: ",").map {
            $0.split(separator: ";")[0].trimmingSpaces
        }
        return types.contains { $0 == mediaType || $0 == "*/*" || $0 == "application/*" || $0 == "application/json" }
    }

    /// `PUT /v2/<name>/manifests/<reference>`: checks size, JSON, media type, references and digest.
    func putManifest(_ request: Request, scope: Scope, name rawName: String, reference rawReference: String)
        async throws -> Response
    {
        let name = try repositoryName(rawName)
        let reference = try reference(rawReference)
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > ManifestParser.maximumSize {
            throw OCIError(
                .contentTooLarge, .sizeInvalid,
                "the manifest is \(length) bytes; the limit is \(ManifestParser.maximumSize) (4 MiB)")
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: ManifestParser.maximumSize) } catch {
            throw OCIError(
                .contentTooLarge, .sizeInvalid,
                "the manifest is larger than the limit of \(ManifestParser.maximumSize) bytes (4 MiB)")
        }
        try await refuseEarly(name, in: scope)
        let bytes = Array(buffer.readableBytesView)
        let parsed = try ManifestParser.parse(bytes, contentType: request.headers[.contentType])
        var algorithm = Digest.Algorithm.sha256
        if case .digest(let claimed) = reference { algorithm = claimed.algorithm }
        let digest = ContentDigester.digest(bytes, algorithm)
        if case .digest(let claimed) = reference, claimed != digest {
            throw OCIError(RegistryError.digestMismatch(nil, claimed: claimed, computed: digest))
        }
        let manifest = Manifest(
            digest: digest, mediaType: parsed.mediaType, content: String(decoding: bytes, as: UTF8.self),
            references: parsed.references)
        // The tag in the path, or (the distribution-spec's multi-tag push, by digest) every `?tag=`.
        var tags: [Tag] = []
        if case .tag(let t) = reference { tags = [t] }
        for raw in request.uri.queryParameters[values: "tag"] {
            guard let tag = Tag(String(raw)) else {
                throw OCIError(
                    .badRequest, .tagInvalid, "'\(raw)' is not a valid tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})")
            }
            if !tags.contains(tag) { tags.append(tag) }
        }
        var options = PutManifestOptions()
        if tags.count > 1 { options.moreTags = Array(tags.dropFirst()) }
        if configuration.sparseManifests { options.allowMissingReferences = true }
        let command = Command.putManifest(
            repository: name, manifest: manifest, tag: tags.first,
            options: options == PutManifestOptions() ? nil : options)
        _ = try await pushing(into: name) {
            try await store.submit([command], scope: scope, creating: name, pushCreation)
        }
        var headers: HTTPFields = [.location: "/v2/\(name)/manifests/\(digest)", .dockerContentDigest: digest.rawValue]
        for tag in tags where !reference.isTag { headers.append(HTTPField(name: .ociTag, value: tag.rawValue)) }
        // Without the referrers API there is nothing to say: the client falls back to the tag schema.
        if let subject = parsed.references.subject, store.state.switches?.referrers ?? true {
            headers[.ociSubject] = subject.rawValue
        }
        return Self.empty(.created, headers)
    }

    /// `DELETE /v2/<name>/manifests/<reference>`: by digest, the image and its tags; by tag, only the tag.
    func deleteManifest(scope: Scope, name rawName: String, reference rawReference: String) async throws -> Response {
        let name = try repositoryName(rawName)
        let reference = try reference(rawReference)
        switch reference {
        case .digest(let digest):
            try await store.submit(.deleteManifest(repository: name, digest: digest), scope: scope)
        case .tag(let tag):
            try await store.submit(.untagImage(repository: name, tag: tag, pruneUntaggedImage: false), scope: scope)
        }
        return Self.empty(.accepted)
    }
}
