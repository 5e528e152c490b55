/// A blob upload in flight. Its bytes live in a spool at the edge; the state knows how many arrived.
public struct Upload: Hashable, Sendable, Codable {
    public var id: UploadID
    public var repository: RepositoryName
    public var startedAt: Timestamp
    /// Bytes received so far; the next chunk must start here.
    public var size: Int64
    /// Chunks received so far.
    public var chunks: Int
    /// The length of the last chunk received.
    public var lastChunkLength: Int64?
    /// The smallest chunk that is not the last one (ECR wants every part but the last to be at least 5 MiB).
    public var smallestEarlierChunk: Int64?
    /// When a chunk last arrived (`nil`: none yet, or in a state written before this was kept).
    public var touchedAt: Timestamp?

    /// When the upload was last touched: its last chunk, else its start.
    public var lastTouched: Timestamp { touchedAt ?? startedAt }

    public init(id: UploadID, repository: RepositoryName, startedAt: Timestamp, size: Int64 = 0, chunks: Int = 0) {
        self.id = id
        self.repository = repository
        self.startedAt = startedAt
        self.size = size
        self.chunks = chunks
    }
}
