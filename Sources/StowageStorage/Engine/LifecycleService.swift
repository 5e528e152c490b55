public import ServiceLifecycle

/// Applies lifecycle policies every `interval`, so images expire as time passes. A
/// swift-service-lifecycle service: it stops with the server.
public struct LifecycleService: Service {
    let store: RegistryStore
    let interval: Duration

    public init(store: RegistryStore, interval: Duration = .seconds(5)) {
        self.store = store
        self.interval = interval
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    // Refused (the images changed meanwhile) or storage failed: the log says which; the next pass retries.
                    _ = try? await store.applyLifecyclePolicies()
                }
            }
        } catch is CancellationError {
            // The server is stopping: a normal end.
        }
    }
}
