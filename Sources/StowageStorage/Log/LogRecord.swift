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
    /// What asked for the command, in the edge's words (`PUT /v2 manifest`, `ECR PutImage`,
    /// `admin import`), when it came from a request.
    public var origin: String?

    public init(envelope: Envelope, refusal: RegistryError? = nil, cause: RecordCause? = nil, origin: String? = nil) {
        self.envelope = envelope
        self.refusal = refusal
        self.cause = cause
        self.origin = origin
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

extension LogRecord {
    /// What the record is, in a line: the command's summary, what it follows or who asked, and,
    /// when refused, why.
    public var summary: String {
        var line = envelope.command.summary
        if let cause {
            line += " (\(cause.reaction.label) after record \(cause.trigger))"
        } else if let origin {
            line += " (\(origin))"
        }
        if let refusal { line += " — REFUSED: \(refusal)" }
        return line
    }
}

extension Reaction.Kind {
    /// The kind, as a person says it.
    public var label: String {
        switch self {
        case .scanOnPush: "scan on push"
        case .replication: "replication"
        case .lifecycle: "lifecycle"
        }
    }
}
