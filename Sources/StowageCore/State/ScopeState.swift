public import HashTreeCollections

/// The registry of one account in one region.
public struct ScopeState: Hashable, Sendable, Codable {
    public var repositories: TreeDictionary<RepositoryName, Repository>
    public var uploads: TreeDictionary<UploadID, Upload>

    public init() {
        repositories = [:]
        uploads = [:]
    }

    /// No repositories and no uploads.
    public var isEmpty: Bool { repositories.isEmpty && uploads.isEmpty }
}
