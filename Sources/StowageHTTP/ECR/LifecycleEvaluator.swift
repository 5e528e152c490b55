import HashTreeCollections
import Logging
import ServiceLifecycle
import StowageCore
import StowageStorage

/// Applies lifecycle policies: every repository with one has the images its rules expire removed,
/// as one logged `expireImages` command per repository. Runs after a policy is put, on
/// `POST /_admin/lifecycle`, after the server's clock moves, and in the background.
struct LifecycleEvaluator: Sendable {
    let store: RegistryStore

    struct Expired: Sendable {
        var scope: Scope
        var repository: RepositoryName
        var expirations: [LifecycleExpiration]
    }

    /// Evaluates every policy (or only one repository's) at the server's clock.
    @discardableResult
    func run(only: (Scope, RepositoryName)? = nil) async -> [Expired] {
        let state = store.state
        let now = store.clock.now()
        var results: [Expired] = []
        for (scope, scoped) in state.scopes.sorted(by: { $0.key < $1.key }) {
            for repository in scoped.repositories.values.sorted(by: { $0.name < $1.name }) {
                if let only, only.0 != scope || only.1 != repository.name { continue }
                guard let text = repository.settings.lifecyclePolicy, let policy = try? LifecyclePolicy(text) else {
                    continue
                }
                let expirations = repository.lifecycleExpirations(policy.rules, now: now)
                guard !expirations.isEmpty else { continue }
                do {
                    try await store.submit(
                        .expireImages(repository: repository.name, digests: expirations.map(\.digest)), scope: scope)
                    results.append(Expired(scope: scope, repository: repository.name, expirations: expirations))
                } catch {
                    // Refused (the images changed meanwhile) or storage failed: the log says which; the next pass retries.
                }
            }
        }
        return results
    }
}

/// Evaluates lifecycle policies every `interval`, so images expire as time passes.
struct LifecycleService: Service {
    let evaluator: LifecycleEvaluator
    let interval: Duration

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    await evaluator.run()
                }
            }
        } catch is CancellationError {
            // The server is stopping: a normal end.
        }
    }
}
