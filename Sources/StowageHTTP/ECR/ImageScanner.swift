import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

/// Image scanning, deterministic: a scan records the findings seeded for the image's digest
/// (`POST /_admin/scan-findings`), none by default. Images are scanned on request and, when the
/// repository or a registry scanning rule says SCAN_ON_PUSH, on push.
struct ImageScanner: Sendable {
    let store: RegistryStore

    /// A repository's effective scan frequency and the registry filters that decided it.
    func frequency(of repository: Repository, in scope: Scope) -> (frequency: String, filters: [[String: String]]) {
        let document =
            (store.state[scope].registry?.scanning).flatMap { try? JSON.parse($0.utf8) }
            as? [String: Any]
        for rule in document?["rules"] as? [[String: Any]] ?? [] {
            let filters = rule["repositoryFilters"] as? [[String: String]] ?? []
            let matching = filters.filter { wildcard($0["filter"] ?? "", matches: repository.name.rawValue) }
            if !matching.isEmpty, let frequency = rule["scanFrequency"] as? String { return (frequency, matching) }
        }
        return (repository.settings.scanOnPush ? "SCAN_ON_PUSH" : "MANUAL", [])
    }

    /// Whether the image can be scanned: image manifests can, indexes cannot.
    static func isScannable(_ image: Image) -> Bool { ManifestMediaType.images.contains(image.manifest.mediaType) }

    /// Scans one image now.
    func scan(_ digest: Digest, in name: RepositoryName, scope: Scope) async throws {
        let findings = store.state[scope].registry?.scanFindingSeeds?[digest] ?? []
        try await store.submit(.recordImageScan(repository: name, digest: digest, findings: findings), scope: scope)
    }

    /// After a push: scans when the repository's effective frequency is SCAN_ON_PUSH.
    func scanOnPush(_ digest: Digest, in name: RepositoryName, scope: Scope) async {
        guard let repository = store.state[scope].repositories[name], let image = repository.images[digest],
            Self.isScannable(image),
            frequency(of: repository, in: scope).frequency == "SCAN_ON_PUSH"
        else { return }
        try? await scan(digest, in: name, scope: scope)
    }
}
