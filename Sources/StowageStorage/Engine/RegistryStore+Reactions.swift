import HashTreeCollections
import Logging
public import StowageCore

/// Reactions: what follows a durable command (``RegistryState/reactions(to:following:)``, a pure
/// function of the state), and lifecycle expiry as time passes. Decided and logged by the writer,
/// never on replay: their records are in the log, each with the record it follows.
extension RegistryStore {
    /// Runs what follows `envelopes` (already durable), then what follows that, each round decided
    /// against the current state in one turn of the writer and made durable before the next.
    /// A reaction the reducer refuses is logged as a refusal; the commands it followed stand.
    func react(to envelopes: [Envelope]) async {
        var round = envelopes.map { (envelope: $0, kind: Reaction.Kind?.none) }
        // Reactions of reactions end after two rounds (a replicated push is scanned and expired,
        // never replicated again); the bound only guards against a rule added later.
        for _ in 0..<4 where !round.isEmpty {
            var next: [(envelope: Envelope, kind: Reaction.Kind?)] = []
            do {
                for (trigger, cause) in round {
                    for reaction in head.reactions(to: trigger, following: cause) {
                        let pending = Pending(
                            scope: reaction.scope, command: reaction.command,
                            cause: RecordCause(trigger: trigger.sequence, reaction: reaction.kind))
                        next += try append([pending]).envelopes.map { ($0, reaction.kind) }
                    }
                }
                if let last = next.last { try await settle(through: last.envelope.sequence) }
            } catch {
                logger.error("reactions to record \(round[0].envelope.sequence) stopped: \(error)")
                return
            }
            round = next
        }
    }

    /// Images a lifecycle policy expired, and the rule that expired each.
    public struct Expired: Sendable {
        public var scope: Scope
        public var repository: RepositoryName
        public var expirations: [LifecycleExpiration]
    }

    /// Applies every lifecycle policy at the server's clock now — after the clock moves, on
    /// `POST /_admin/lifecycle`, and in the background — decided and logged in one turn of the
    /// writer: one `expireImages` per repository with something to expire.
    @discardableResult
    public func applyLifecyclePolicies() async throws -> [Expired] {
        let now = clock.now()
        var expired: [Expired] = []
        var pending: [Pending] = []
        for reaction in head.lifecycleReactions(at: now) {
            guard case .expireImages(let name, let digests, let rules) = reaction.command else { continue }
            let expirations = zip(digests, rules ?? []).map { LifecycleExpiration(digest: $0, rulePriority: $1) }
            expired.append(Expired(scope: reaction.scope, repository: name, expirations: expirations))
            pending.append(Pending(scope: reaction.scope, command: reaction.command))
        }
        guard !pending.isEmpty else { return [] }
        let appended = try append(pending)
        if let last = appended.envelopes.last { try await settle(through: last.sequence) }
        if let refusal = appended.refusal { throw refusal }
        return expired
    }
}

extension RegistryStore {
    /// Ends the uploads nobody touched for `timeout` of the server's clock, as logged `endUpload`
    /// commands decided in one turn of the writer. Returns how many ended.
    @discardableResult
    public func expireUploads(after timeout: Duration) async throws -> Int {
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let ended = head.expiredUploads(at: clock.now(), timeout: milliseconds)
        guard !ended.isEmpty else { return 0 }
        let appended = try append(ended.map { Pending(scope: $0.scope, command: $0.command) })
        if let last = appended.envelopes.last { try await settle(through: last.sequence) }
        return appended.envelopes.count
    }
}
