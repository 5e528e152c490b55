public import HashTreeCollections

/// A named point in the log that the registry can be rewound to.
public struct Checkpoint: Hashable, Sendable, Codable {
    public var name: CheckpointName
    public var sequence: UInt64
    public var time: Timestamp

    public init(name: CheckpointName, sequence: UInt64, time: Timestamp) {
        self.name = name
        self.sequence = sequence
        self.time = time
    }
}

/// The whole registry: every account-region, folded from the log by ``apply(_:)``.
///
/// All collections are persistent (`TreeDictionary`), so copying a state is O(1) and an update
/// costs O(log n): holding an old state for a reader, a snapshot or a checkpoint is free.
public struct RegistryState: Hashable, Sendable, Codable {
    /// The sequence number of the last command applied; 0 for the empty log.
    public var sequence: UInt64
    /// The time of the last command applied.
    public var time: Timestamp
    public var scopes: TreeDictionary<Scope, ScopeState>
    public var checkpoints: TreeDictionary<CheckpointName, Checkpoint>
    /// Where the server's clock stands from its source, in milliseconds (`nil`: at it).
    public var clockOffset: Int64?
    /// The server's switches (`nil`: all at their defaults); see ``Switches``.
    public var switches: Switches?

    public init() {
        sequence = 0
        time = .epoch
        scopes = [:]
        checkpoints = [:]
    }

    /// The registry of `scope`, empty when nothing was ever done there.
    public subscript(scope: Scope) -> ScopeState {
        scopes[scope] ?? ScopeState()
    }
}
