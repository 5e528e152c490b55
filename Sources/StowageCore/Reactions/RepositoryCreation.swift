import HashTreeCollections

/// What a write may do when its repository does not exist yet.
///
/// The writer decides it, against the state the write is applied to: a write that may create its
/// repository is logged after a ``Command/createRepository(name:settings:)`` with the settings
/// decided here, so concurrent first pushes create the repository once and replay needs no rule.
public enum RepositoryCreation: Hashable, Sendable {
    /// Never: the write is refused (`repositoryNotFound`), as ECR refuses a push to a missing repository.
    case never
    /// A push: created when a `CREATE_ON_PUSH` creation template covers the name (ECR's rule), or
    /// with `always` (`--create-on-push`) in any case; with the template's settings when one covers it.
    case onPush(always: Bool)
    /// A pull through the cache: created, with a `PULL_THROUGH_CACHE` template's settings if one covers it.
    case pullThrough
    /// A replicated push: created, with a `REPLICATION` template's settings if one covers it.
    case replication
}

extension RegistryState {
    /// The command that creates `name` in `scope` for a write that may create it under `rule`;
    /// `nil` when the repository exists or the rule does not create it.
    public func creation(of name: RepositoryName, in scope: Scope, _ rule: RepositoryCreation) -> Command? {
        let here = self[scope]
        guard here.repositories[name] == nil else { return nil }
        let registry = here.registry ?? RegistrySettings()
        let settings: RepositorySettings?
        switch rule {
        case .never:
            settings = nil
        case .onPush(let always):
            let template = registry.template(covering: name, for: .createOnPush)?.repositorySettings
            settings = template ?? (always ? RepositorySettings() : nil)
        case .pullThrough:
            settings = registry.template(covering: name, for: .pullThroughCache)?.repositorySettings ?? .init()
        case .replication:
            settings = registry.template(covering: name, for: .replication)?.repositorySettings ?? .init()
        }
        return settings.map { .createRepository(name: name, settings: $0) }
    }
}
