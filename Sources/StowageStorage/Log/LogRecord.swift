public import StowageCore

/// One entry of the event log: a stamped command, and whether the reducer applied or refused it.
///
/// Refused commands change nothing, but they are history: the admin API shows them when a
/// person reads how an upload went wrong. Replay skips them.
public struct LogRecord: Hashable, Sendable, Codable {
    public var envelope: Envelope
    /// Why the command was refused; `nil` when it was applied.
    public var refusal: RegistryError?

    public init(envelope: Envelope, refusal: RegistryError? = nil) {
        self.envelope = envelope
        self.refusal = refusal
    }

    public var sequence: UInt64 { envelope.sequence }
}
