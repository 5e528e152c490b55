import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// ECR pull-through cache: a pull of `<prefix>/<name>` that this registry does not hold yet is
/// fetched from the rule's upstream registry (any OCI registry this server can reach), checked
/// digest by digest, stored — repository (with a PULL_THROUGH_CACHE creation template's settings),
/// blobs, manifests, tag — as logged commands, and then served from here.
struct PullThroughCache: Sendable {
    let store: RegistryStore

    struct Rule {
        var prefix: String
        var upstreamURL: URL
        var upstreamPrefix: String?
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The rule that covers `name`: the longest prefix, else ROOT.
    func rule(for name: RepositoryName, in scope: Scope) -> Rule? {
        let rules = store.state[scope].registry?.pullThroughRules ?? [:]
        let covering = rules.keys.filter { $0 != "ROOT" && name.rawValue.hasPrefix($0 + "/") }.sorted {
            $0.count > $1.count
        }
        guard let prefix = covering.first ?? (rules["ROOT"] != nil ? "ROOT" : nil),
            let document = rules[prefix].flatMap({ try? JSON.parse($0.utf8) })
                as? [String: Any],
            let url = (document["upstreamRegistryUrl"] as? String).flatMap(URL.init(string:))
        else { return nil }
        return Rule(prefix: prefix, upstreamURL: url, upstreamPrefix: document["upstreamRepositoryPrefix"] as? String)
    }

    /// The upstream repository for a local name under a rule.
    func upstreamName(_ name: RepositoryName, _ rule: Rule) -> String {
        let rest = rule.prefix == "ROOT" ? name.rawValue : String(name.rawValue.dropFirst(rule.prefix.count + 1))
        guard let upstream = rule.upstreamPrefix, upstream != "ROOT" else { return rest }
        return (upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream) + "/" + rest
    }

    /// Fetches and stores the image `reference` names, when a rule covers the repository and the
    /// image is not here yet. Returns whether it fetched anything.
    @discardableResult
    func fetchIfCovered(_ name: RepositoryName, _ reference: Reference, in scope: Scope) async throws -> Bool {
        guard let rule = rule(for: name, in: scope) else { return false }
        if let repository = store.state[scope].repositories[name], repository.image(reference) != nil { return false }
        if store.state[scope].repositories[name] == nil {
            let settings =
                templateSettings(for: name, in: store.state[scope].registry, appliedFor: "PULL_THROUGH_CACHE")
                ?? .init()
            do {
                try await store.submit(.createRepository(name: name, settings: settings), scope: scope)
            } catch RegistryError.repositoryAlreadyExists {}
        }
        let upstream = upstreamName(name, rule)
        let digest = try await fetchManifest(
            reference.description, upstream: upstream, rule: rule, into: name, scope: scope)
        if case .tag(let tag) = reference {
            try await store.submit(.tagImage(repository: name, tag: tag, digest: digest), scope: scope)
        }
        return true
    }

    /// Fetches a manifest (and, for an index, its children) with every blob; returns its digest.
    private func fetchManifest(
        _ reference: String, upstream: String, rule: Rule, into name: RepositoryName, scope: Scope
    ) async throws -> Digest {
        let (bytes, contentType) = try await get(
            rule, "/v2/\(upstream)/manifests/\(reference)",
            accept: ManifestMediaType.all.sorted().joined(separator: ", "))
        let parsed: (mediaType: String, references: ManifestReferences)
        do { parsed = try ManifestParser.parse(Array(bytes), contentType: contentType) } catch {
            throw Failure(
                description:
                    "the upstream's manifest \(reference) is not one this registry stores: \(error.errors.first?.message ?? "")"
            )
        }
        let digest = ContentDigester.digest(bytes, Digest(reference)?.algorithm ?? .sha256)
        if let claimed = Digest(reference), claimed != digest {
            throw Failure(description: "the upstream answered \(reference) with content whose digest is \(digest)")
        }
        if store.state[scope].repositories[name]?.images[digest] != nil { return digest }
        for child in parsed.references.manifests {
            _ = try await fetchManifest(child.digest.rawValue, upstream: upstream, rule: rule, into: name, scope: scope)
        }
        for blob in parsed.references.blobs where store.state[scope].repositories[name]?.blobs[blob.digest] == nil {
            if store.content.blobSize(blob.digest) == nil {
                let (content, _) = try await get(rule, "/v2/\(upstream)/blobs/\(blob.digest)", accept: "*/*")
                guard ContentDigester.digest(content, blob.digest.algorithm) == blob.digest else {
                    throw Failure(description: "the upstream's blob \(blob.digest) does not have that digest")
                }
                await store.pin(blob.digest)
                defer { Task { await store.unpin(blob.digest) } }
                try store.content.writeBlob(blob.digest, Array(content))
            }
            try await store.submit(
                .putBlob(
                    repository: name, digest: blob.digest, size: Int64(store.content.blobSize(blob.digest) ?? blob.size)
                ), scope: scope)
        }
        let manifest = Manifest(
            digest: digest, mediaType: parsed.mediaType, content: String(decoding: bytes, as: UTF8.self),
            references: parsed.references)
        try await store.submit(.putManifest(repository: name, manifest: manifest, tag: nil), scope: scope)
        return digest
    }

    /// A GET against the upstream, with the credentials of the URL's userinfo if it has them.
    private func get(_ rule: Rule, _ path: String, accept: String) async throws -> (Data, String?) {
        var components = URLComponents(url: rule.upstreamURL, resolvingAgainstBaseURL: false)!
        let user = components.user
        let password = components.password
        components.user = nil
        components.password = nil
        let base = components.string!.hasSuffix("/") ? String(components.string!.dropLast()) : components.string!
        var request = URLRequest(url: URL(string: base + path)!)
        request.setValue(accept, forHTTPHeaderField: "Accept")
        if let user {
            request.setValue(
                "Basic " + Data("\(user):\(password ?? "")".utf8).base64EncodedString(),
                forHTTPHeaderField: "Authorization")
        }
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw Failure(
                description: "the upstream \(rule.upstreamURL.host ?? "") is unreachable: \(error.localizedDescription)"
            )
        }
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw Failure(
                description:
                    "the upstream \(rule.upstreamURL.host ?? "") answered \((response as? HTTPURLResponse)?.statusCode ?? 0) for \(path)"
            )
        }
        return (data, http.value(forHTTPHeaderField: "Content-Type"))
    }

    /// Whether the upstream answers as an OCI registry (`GET /v2/` is 200 or 401).
    func validate(_ rule: Rule) async -> String? {
        var request = URLRequest(url: rule.upstreamURL.appendingPathComponent("v2/"))
        request.timeoutInterval = 10
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return status == 200 || status == 401 ? nil : "the upstream answered \(status) to GET /v2/"
        } catch {
            return "the upstream is unreachable: \(error.localizedDescription)"
        }
    }
}
