/// A command as the engine stamped it: its place in the log, its time and its account-region.
public struct Envelope: Hashable, Sendable, Codable {
    /// The dense, 1-based position in the log.
    public var sequence: UInt64
    /// When the engine accepted it, from the server's clock.
    public var time: Timestamp
    /// The account and region the command acts in.
    public var scope: Scope
    public var command: Command

    public init(sequence: UInt64, time: Timestamp, scope: Scope = .default, command: Command) {
        self.sequence = sequence
        self.time = time
        self.scope = scope
        self.command = command
    }
}
