import HashTreeCollections

extension RegistryState {
    /// The registry becomes the stored state `point`; checkpoints are kept, uploads in flight end
    /// (their bytes belong to the present).
    mutating func restore(_ point: UInt64, points: (UInt64) -> RegistryState?) throws(RegistryError) {
        guard let target = points(point) else { throw .pointUnavailable(point) }
        let kept = checkpoints
        scopes = target.scopes
        checkpoints = kept
        for scope in Array(scopes.keys) where !scopes[scope]!.uploads.isEmpty {
            scopes[scope]!.uploads = [:]
        }
    }
}
