import Foundation
import HTTPTypes
import HashTreeCollections
public import Hummingbird
import HummingbirdCore
public import Logging
public import StowageStorage

/// The application `stowage serve` runs and the tests start: one listener for `/v2`, the ECR
/// JSON API and `/_admin`.
public func buildApplication(
    configuration: ServerConfiguration, store: RegistryStore, secret: [UInt8], logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    let address = ServerAddress(host: configuration.host, port: configuration.port)
    router.middlewares.add(AccessLogMiddleware())
    let tokens = TokenAuthority(secret: secret, clock: store.clock)
    let sessions = UploadSessions(content: store.content)
    let uploads = BlobUploads(store: store, sessions: sessions)
    let scanner = ImageScanner(store: store)
    let replicator = Replicator(store: store)
    let pullThrough = PullThroughCache(store: store)
    let pullTimes = PullTimes()
    OCIController(
        store: store, uploads: uploads, tokens: tokens, configuration: configuration, scanner: scanner,
        replicator: replicator,
        pullThrough: pullThrough, pullTimes: pullTimes
    )
    .register(on: router)
    let lifecycle = LifecycleEvaluator(store: store)
    ECRController(
        store: store, uploads: uploads, tokens: tokens, configuration: configuration, address: address,
        lifecycle: lifecycle,
        scanner: scanner, replicator: replicator, pullThrough: pullThrough, pullTimes: pullTimes
    )
    .register(on: router)
    AdminController(
        store: store, configuration: configuration, address: address, tokens: tokens, sessions: sessions,
        lifecycle: lifecycle
    )
    .register(on: router)
    return Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()])),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Stowage"),
        services: [
            GarbageCollector(store: store, interval: configuration.garbageCollectionInterval),
            LifecycleService(evaluator: lifecycle, interval: configuration.garbageCollectionInterval),
        ],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            address.bound(to: port)
            await onServerRunning(port)
        },
        logger: logger)
}

/// The `/_admin` routes the server answers, as `METHOD path` (what `admin-api.md` must document).
public let adminRoutes: [String] = AdminController.routes
