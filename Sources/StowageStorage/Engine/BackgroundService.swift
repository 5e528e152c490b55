public import ServiceLifecycle

/// Work the engine does every `interval` while the server runs: collecting garbage, applying
/// lifecycle policies as time passes. A swift-service-lifecycle service: it stops with the server.
public struct BackgroundService: Service {
    let interval: Duration
    let work: @Sendable () async -> Void

    public init(every interval: Duration, _ work: @escaping @Sendable () async -> Void) {
        self.interval = interval
        self.work = work
    }

    /// Removes stored blobs nothing references any more, when deletes or resets may have left some.
    public static func garbageCollector(_ store: RegistryStore, every interval: Duration = .seconds(5)) -> Self {
        Self(every: interval) { await store.collectGarbageIfNeeded() }
    }

    /// Applies every lifecycle policy at the server's clock, so images expire as time passes.
    public static func lifecycle(_ store: RegistryStore, every interval: Duration = .seconds(5)) -> Self {
        // Refused (the images changed meanwhile) or storage failed: the log says which; the next pass retries.
        Self(every: interval) { _ = try? await store.applyLifecyclePolicies() }
    }

    /// Ends uploads nobody touched for `timeout` of the server's clock.
    public static func uploadExpiry(
        _ store: RegistryStore, after timeout: Duration, every interval: Duration = .seconds(5)
    ) -> Self {
        Self(every: interval) { _ = try? await store.expireUploads(after: timeout) }
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    await work()
                }
            }
        } catch is CancellationError {
            // The server is stopping: a normal end, not a failure.
        }
    }
}
