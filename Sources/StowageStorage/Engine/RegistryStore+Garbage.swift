import HashTreeCollections
public import StowageCore

/// Garbage: stored blobs nothing links any more, and spools of uploads that ended. A blob that
/// is being stored is pinned until the commands that link it are logged (see ``Ingest``).
extension RegistryStore {
    /// Keeps blobs from garbage collection while they are stored and the commands linking them logged.
    public func pin(_ digests: [Digest]) {
        for digest in digests { pinnedBlobs[digest, default: 0] += 1 }
    }

    public func unpin(_ digests: [Digest]) {
        for digest in digests {
            pinnedBlobs[digest, default: 1] -= 1
            if pinnedBlobs[digest] == 0 { pinnedBlobs[digest] = nil }
        }
    }

    /// Notes that a stored blob may be linked nowhere (one stored for a commit that was refused).
    func noteGarbage() { garbageMayExist = true }

    /// Removes stored blobs that no repository links, no ingest has pinned, and no checkpoint
    /// can bring back. Returns how many were removed.
    ///
    /// What is linked, and what is stored, is gathered off the writer from the state as the pass
    /// found it: with a million images that takes about a second, and the writer, gathering it
    /// itself, held every write back as long. Back on the writer, a candidate is removed only if
    /// the state now links it nowhere and no ingest has pinned it; when a checkpoint was taken
    /// meanwhile (its state may link a candidate), nothing is removed and the next pass decides.
    @discardableResult
    public func collectGarbage() async -> Int {
        garbageMayExist = false
        // A replay serves every point of its recording: the blobs of each stay.
        guard !configuration.readOnly else { return 0 }
        let found = head
        // Blobs a rewind to a checkpoint would bring back.
        let checkpoints = found.checkpoints.values.compactMap { point($0.sequence) }
        let content = self.content
        let candidates = await Task.detached(priority: .utility) {
            var keep = found.linkedBlobs
            for state in checkpoints { keep.formUnion(state.linkedBlobs) }
            return content.blobDigests().filter { !keep.contains($0) }
        }.value
        guard head.checkpoints == found.checkpoints else {
            garbageMayExist = true
            return 0
        }
        var removed = 0
        for digest in candidates where pinnedBlobs[digest] == nil && !head.links(blob: digest) {
            content.removeBlob(digest)
            removed += 1
        }
        return removed
    }

    /// Collects garbage if a command since the last collection may have left some (and at start-up).
    @discardableResult
    public func collectGarbageIfNeeded() async -> Int {
        garbageMayExist ? await collectGarbage() : 0
    }

    /// Spools whose upload is no longer in flight (after a reset, restore or repository deletion);
    /// whole-blob spools (`mono-`) belong to requests still streaming.
    func removeOrphanSpools() {
        let inFlight = Set(head.uploadsInFlight.map(\.upload.id.rawValue))
        for name in content.spoolIDs() where !inFlight.contains(name) && !name.hasPrefix(Ingest.wholeBlobPrefix) {
            if let id = UploadID(name) { content.removeSpool(id) }
        }
    }
}
