public import StowageCore

/// An upload is already receiving bytes from another request.
public struct UploadBusy: Error, CustomStringConvertible, Sendable {
    public var id: UploadID
    public var description: String { "upload \(id) is receiving another request; send its chunks one at a time" }
}

/// The running digest of each upload in flight, and which uploads a request is writing to.
///
/// A request takes an upload exclusively while it streams a chunk into the spool, so two
/// requests never write the same spool at once. The digest of the spooled bytes lives here
/// between requests; after a restart it is rebuilt from the spool the first time it is needed.
public actor UploadSessions {
    /// The running digest over the first `size` bytes of an upload.
    public struct Session: Sendable {
        public var digester: ContentDigester
        public var size: Int64
        public var algorithm: Digest.Algorithm
    }

    private var sessions: [UploadID: Session] = [:]
    private var busy: Set<UploadID> = []
    private let content: any ContentStore

    public init(content: any ContentStore) { self.content = content }

    /// Takes the upload for one request; its digest covers exactly `size` bytes (the logged length).
    public func acquire(_ id: UploadID, size: Int64, algorithm: Digest.Algorithm = .sha256) throws -> Session {
        guard busy.insert(id).inserted else { throw UploadBusy(id: id) }
        if let session = sessions[id], session.size == size, session.algorithm == algorithm { return session }
        do {
            return try rehash(id, size: size, algorithm: algorithm)
        } catch {
            busy.remove(id)
            throw error
        }
    }

    /// Gives the upload back, with the digest as it now stands.
    public func release(_ id: UploadID, _ session: Session) {
        busy.remove(id)
        sessions[id] = session
    }

    /// Gives the upload back without keeping any digest (it was committed, cancelled or failed).
    public func forget(_ id: UploadID) {
        busy.remove(id)
        sessions[id] = nil
    }

    private func rehash(_ id: UploadID, size: Int64, algorithm: Digest.Algorithm) throws -> Session {
        var session = Session(digester: ContentDigester(algorithm), size: 0, algorithm: algorithm)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while session.size < size {
            let want = Int(min(Int64(buffer.count), size - session.size))
            let n = try buffer.withUnsafeMutableBytes { all in
                try content.readSpool(
                    id, at: session.size, into: UnsafeMutableRawBufferPointer(rebasing: all[0..<want]))
            }
            guard n > 0 else {
                throw ContentNotFound(what: "bytes \(session.size)..<\(size) of the spool of upload \(id)")
            }
            buffer.withUnsafeBytes { session.digester.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            session.size += Int64(n)
        }
        return session
    }
}
