public import HashTreeCollections

/// The registry of one account in one region.
public struct ScopeState: Hashable, Sendable, Codable {
    public var repositories: TreeDictionary<RepositoryName, Repository>
    public var uploads: TreeDictionary<UploadID, Upload>
    /// Registry-level settings; `nil` until one is set.
    public var registry: RegistrySettings?

    public init() {
        repositories = [:]
        uploads = [:]
    }

    /// No repositories, no uploads and no registry settings.
    public var isEmpty: Bool { repositories.isEmpty && uploads.isEmpty && registry == nil }
}
