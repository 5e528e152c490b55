public import ServiceLifecycle

/// Removes stored blobs nothing references any more, every `interval`, when deletes or resets
/// may have left some. A swift-service-lifecycle service: it stops with the server.
public struct GarbageCollector: Service {
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
                    await store.collectGarbageIfNeeded()
                }
            }
        } catch is CancellationError {
            // The server is stopping: a normal end, not a failure.
        }
    }
}
