/// Bytes arriving for a blob or a chunk: a request body, a layer part, a fetched blob.
///
/// The edge adapts what it receives (an HTTP body as a sequence of buffers) to this; the engine
/// pulls the bytes through, writing and hashing each run as it comes, so nothing is buffered whole.
public struct ByteSource: Sendable {
    /// The length the sender declared (a `Content-Length`), a hint for reserving space.
    public var declaredLength: Int64?
    private let produce: @Sendable (_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws -> Void

    /// - Parameter produce: calls `consume` with each run of bytes, in order, then returns.
    public init(
        declaredLength: Int64? = nil,
        _ produce: @escaping @Sendable (_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws -> Void
    ) {
        self.declaredLength = declaredLength
        self.produce = produce
    }

    /// Bytes already in memory.
    public static func bytes(_ bytes: [UInt8]) -> ByteSource {
        ByteSource(declaredLength: Int64(bytes.count)) { consume in try bytes.withUnsafeBytes(consume) }
    }

    /// Hands each run of bytes to `consume`.
    public func forEach(_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws {
        try await produce(consume)
    }
}
