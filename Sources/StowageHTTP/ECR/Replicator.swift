import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

/// ECR replication: an image pushed to a repository that a replication rule covers is copied to
/// each destination account-region held by this server — the repository created there (with a
/// REPLICATION creation template's settings if one covers it), the blobs linked (their bytes are
/// stored once for all), the manifest and its tag put. Copies happen right after the push.
struct Replicator: Sendable {
    let store: RegistryStore

    /// The destinations whose rules cover `name` in `scope`'s replication configuration.
    func destinations(for name: RepositoryName, in scope: Scope) -> [Scope] {
        guard let text = store.state[scope].registry?.replication,
            let document = try? JSON.parse(text.utf8) as? [String: Any]
        else { return [] }
        var result: [Scope] = []
        for rule in document["rules"] as? [[String: Any]] ?? [] {
            let filters = rule["repositoryFilters"] as? [[String: String]] ?? []
            guard filters.isEmpty || filters.contains(where: { name.rawValue.hasPrefix($0["filter"] ?? "") }) else {
                continue
            }
            for destination in rule["destinations"] as? [[String: String]] ?? [] {
                guard let account = destination["registryId"].flatMap(AccountID.init),
                    let region = destination["region"].flatMap(Region.init)
                else { continue }
                let target = Scope(account: account, region: region)
                if target != scope && !result.contains(target) { result.append(target) }
            }
        }
        return result
    }

    /// Copies an image (children first, for an index) to every destination that covers its repository.
    func replicate(_ digest: Digest, tag: Tag?, from name: RepositoryName, in scope: Scope) async {
        for destination in destinations(for: name, in: scope) {
            try? await copy(digest, tag: tag, from: name, in: scope, to: destination)
        }
    }

    private func copy(_ digest: Digest, tag: Tag?, from name: RepositoryName, in scope: Scope, to destination: Scope)
        async throws
    {
        guard let image = store.state[scope].repositories[name]?.images[digest] else { return }
        if store.state[destination].repositories[name] == nil {
            let settings = replicationTemplateSettings(for: name, in: store.state[destination].registry) ?? .init()
            do {
                try await store.submit(.createRepository(name: name, settings: settings), scope: destination)
            } catch RegistryError.repositoryAlreadyExists {}
        }
        for child in image.manifest.references.manifests
        where store.state[destination].repositories[name]?.images[child.digest] == nil {
            try await copy(child.digest, tag: nil, from: name, in: scope, to: destination)
        }
        let target = store.state[destination].repositories[name]
        for blob in image.manifest.references.blobs where target?.blobs[blob.digest] == nil {
            guard let size = store.state[scope].repositories[name]?.blobs[blob.digest] else { continue }
            try await store.submit(.putBlob(repository: name, digest: blob.digest, size: size), scope: destination)
        }
        try await store.submit(.putManifest(repository: name, manifest: image.manifest, tag: tag), scope: destination)
    }
}

/// A REPLICATION creation template's settings for a replicated repository, if one covers it.
private func replicationTemplateSettings(for name: RepositoryName, in registry: RegistrySettings?)
    -> RepositorySettings?
{
    templateSettings(for: name, in: registry, appliedFor: "REPLICATION")
}
