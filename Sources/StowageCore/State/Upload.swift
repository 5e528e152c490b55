/// A blob upload in flight. Its bytes live in a spool at the edge; the state knows how many arrived.
public struct Upload: Hashable, Sendable, Codable {
    public var id: UploadID
    public var repository: RepositoryName
    public var startedAt: Timestamp
    /// Bytes received so far; the next chunk must start here.
    public var size: Int64
    /// Chunks received so far.
    public var chunks: Int

    public init(id: UploadID, repository: RepositoryName, startedAt: Timestamp, size: Int64 = 0, chunks: Int = 0) {
        self.id = id
        self.repository = repository
        self.startedAt = startedAt
        self.size = size
        self.chunks = chunks
    }
}
