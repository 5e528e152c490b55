import StowageCore

/// Whose turn it is to write to each upload, and the running digest of each upload in flight.
///
/// One request at a time writes an upload: another that arrives meanwhile waits for its turn,
/// then finds the upload as the first one left it (so of two chunks claiming the same offset,
/// one lands and the other is refused as out of order). The digest of the spooled bytes is kept
/// here between requests; after a restart it is rebuilt from the spool the first time it is needed.
actor UploadSessions {
    /// The running digest over the first `size` bytes of an upload.
    struct Session: Sendable {
        var digester: ContentDigester
        var size: Int64
        var algorithm: Digest.Algorithm
    }

    private var sessions: [UploadID: Session] = [:]
    private var writing: Set<UploadID> = []
    private var waiting: [UploadID: [CheckedContinuation<Void, Never>]] = [:]

    /// Waits until no other request writes to the upload, then takes it; give it back with ``release(_:keeping:)``.
    func acquire(_ id: UploadID) async {
        if writing.insert(id).inserted { return }
        await withCheckedContinuation { waiting[id, default: []].append($0) }
    }

    /// The kept digest, if it covers exactly `size` bytes with `algorithm` (any, when `nil`).
    func session(_ id: UploadID, size: Int64, algorithm: Digest.Algorithm?) -> Session? {
        guard let session = sessions[id], session.size == size, algorithm.map({ session.algorithm == $0 }) ?? true
        else { return nil }
        return session
    }

    /// An empty upload's digest, with the algorithm it was started with.
    func prime(_ id: UploadID, algorithm: Digest.Algorithm) {
        sessions[id] = Session(digester: ContentDigester(algorithm), size: 0, algorithm: algorithm)
    }

    /// Gives the upload back untouched: nothing was written.
    func release(_ id: UploadID) { handOn(id) }

    /// Gives the upload back: with the digest as it now stands, or (`nil`) forgetting it
    /// (the upload was committed, cancelled, or a write failed). The next waiting request goes on.
    func release(_ id: UploadID, keeping session: Session?) {
        sessions[id] = session
        handOn(id)
    }

    private func handOn(_ id: UploadID) {
        if var queue = waiting[id], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[id] = queue.isEmpty ? nil : queue
            next.resume()  // the upload stays taken, by the next request
        } else {
            writing.remove(id)
        }
    }

    /// The digest of the first `size` bytes of an upload's spool (after a restart, or another algorithm).
    nonisolated static func rehash(
        _ id: UploadID, size: Int64, algorithm: Digest.Algorithm, in content: any ContentStore
    ) throws -> Session {
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
