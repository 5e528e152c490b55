public import StowageCore

/// One entry of the event log: a stamped command, and whether the reducer applied or refused it.
///
/// Refused commands change nothing, but they are history: the admin API shows them when a
/// person reads how an upload went wrong. Replay skips them.
public struct LogRecord: Hashable, Sendable, Codable {
    public var envelope: Envelope
    /// Why the command was refused; `nil` when it was applied.
    public var refusal: RegistryError?
    /// For a reaction (a scan on push, a replicated copy, a lifecycle expiry): what it follows.
    public var cause: RecordCause?

    public init(envelope: Envelope, refusal: RegistryError? = nil, cause: RecordCause? = nil) {
        self.envelope = envelope
        self.refusal = refusal
        self.cause = cause
    }

    public var sequence: UInt64 { envelope.sequence }
}

/// What a reaction's record follows: the record that triggered it, and the kind of reaction.
public struct RecordCause: Hashable, Sendable, Codable {
    public var trigger: UInt64
    public var reaction: Reaction.Kind

    public init(trigger: UInt64, reaction: Reaction.Kind) {
        self.trigger = trigger
        self.reaction = reaction
    }
}
