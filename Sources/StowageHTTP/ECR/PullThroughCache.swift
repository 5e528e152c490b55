import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// ECR pull-through cache: a pull of `<prefix>/<name>` that this registry does not hold yet is
/// fetched from the rule's upstream registry (any OCI registry this server can reach), checked
/// digest by digest, stored through ``Ingest`` — repository (created by the writer, with a
/// PULL_THROUGH_CACHE creation template's settings), blobs, manifests, tag — as logged commands,
/// and then served from here.
struct PullThroughCache: Sendable {
    let store: RegistryStore
    let ingest: Ingest

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Fetches and stores the image `reference` names, when a rule covers the repository and the
    /// image is not here yet. Returns whether it fetched anything.
    @discardableResult
    func fetchIfCovered(_ name: RepositoryName, _ reference: Reference, in scope: Scope) async throws -> Bool {
        let state = store.state[scope]
        guard let rule = state.registry?.pullThroughRule(covering: name) else { return false }
        if let repository = state.repositories[name], repository.image(reference) != nil { return false }
        let digest = try await fetchManifest(
            reference.description, upstream: rule.upstreamName(for: name), rule: rule, into: name, scope: scope)
        if case .tag(let tag) = reference {
            try await store.submit([.tagImage(repository: name, tag: tag, digest: digest)], scope: scope)
        }
        return true
    }

    /// Fetches a manifest (and, for an index, its children) with every blob; returns its digest.
    private func fetchManifest(
        _ reference: String, upstream: String, rule: PullThroughRule, into name: RepositoryName, scope: Scope
    ) async throws -> Digest {
        let (bytes, contentType) = try await get(
            rule, "/v2/\(upstream)/manifests/\(reference)",
            accept: ManifestMediaType.all.sorted().joined(separator: ", "))
        let parsed: (mediaType: String, references: ManifestReferences)
        do { parsed = try ManifestParser.parse(bytes, contentType: contentType) } catch {
            throw Failure(description: "the upstream's manifest \(reference) is not one this registry stores: \(error)")
        }
        let digest = ContentDigester.digest(bytes, Digest(reference)?.algorithm ?? .sha256)
        if let claimed = Digest(reference), claimed != digest {
            throw Failure(description: "the upstream answered \(reference) with content whose digest is \(digest)")
        }
        if store.state[scope].repositories[name]?.images[digest] != nil { return digest }
        for child in parsed.references.manifests {
            _ = try await fetchManifest(child.digest.rawValue, upstream: upstream, rule: rule, into: name, scope: scope)
        }
        // Blobs this registry lacks are fetched whole and checked; then linked with the manifest.
        var fetched: [(Digest, [UInt8])] = []
        var links: [Command] = []
        for blob in unique(parsed.references.blobs.map(\.digest))
        where store.state[scope].repositories[name]?.blobs[blob] == nil {
            var size = store.content.blobSize(blob)
            if size == nil {
                let (content, _) = try await get(rule, "/v2/\(upstream)/blobs/\(blob)", accept: "*/*")
                guard ContentDigester.digest(content, blob.algorithm) == blob else {
                    throw Failure(description: "the upstream's blob \(blob) does not have that digest")
                }
                fetched.append((blob, content))
                size = Int64(content.count)
            }
            links.append(.putBlob(repository: name, digest: blob, size: size!))
        }
        let manifest = Manifest(
            digest: digest, mediaType: parsed.mediaType, content: String(decoding: bytes, as: UTF8.self),
            references: parsed.references)
        links.append(.putManifest(repository: name, manifest: manifest, tag: nil))
        let stored = links.compactMap { command -> Digest? in
            guard case .putBlob(_, let digest, _) = command, !fetched.contains(where: { $0.0 == digest }) else {
                return nil
            }
            return digest
        }
        _ = try await ingest.ingest(verified: fetched, alsoLinking: stored) {
            try await store.submit(links, scope: scope, creating: name, .pullThrough).envelopes.count
        }
        return digest
    }

    /// A GET against the upstream, with the credentials of the URL's userinfo if it has them.
    private func get(_ rule: PullThroughRule, _ path: String, accept: String) async throws -> ([UInt8], String?) {
        let response: PlainHTTPClient.Response
        do {
            response = try await PlainHTTPClient.send("GET", Self.url(rule, path), headers: [("Accept", accept)])
        } catch {
            throw Failure(description: "the upstream cannot be read: \(error)")
        }
        guard response.status == 200 else {
            throw Failure(description: "the upstream answered \(response.status) for \(path)")
        }
        return (response.body, response.header("Content-Type"))
    }

    /// The upstream URL of `path` (which starts with `/`).
    private static func url(_ rule: PullThroughRule, _ path: String) -> String {
        var base = rule.upstreamRegistryURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }

    /// Whether the upstream answers as an OCI registry (`GET /v2/` is 200 or 401).
    func validate(_ rule: PullThroughRule) async -> String? {
        do {
            let status = try await PlainHTTPClient.send("GET", Self.url(rule, "/v2/"), timeout: .seconds(10)).status
            return status == 200 || status == 401 ? nil : "the upstream answered \(status) to GET /v2/"
        } catch {
            return "the upstream cannot be read: \(error)"
        }
    }
}

/// The elements of `list` in order, each once.
private func unique<T: Hashable>(_ list: [T]) -> [T] {
    var seen = Set<T>()
    return list.filter { seen.insert($0).inserted }
}
