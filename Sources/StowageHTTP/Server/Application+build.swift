import Foundation
import HTTPTypes
import HashTreeCollections
public import Hummingbird
import HummingbirdCore
public import Logging
public import StowageStorage

/// The application `stowage serve` runs and the tests start: one listener for `/v2`, the ECR
/// JSON API and `/_admin` — or, with `adminPort`, `/_admin` on a listener of its own.
///
/// - Parameters:
///   - onServerRunning: called with the main listener's port once it listens.
///   - onAdminRunning: called with the admin listener's port, when there is one.
/// - Returns: the applications to run together (one, or two with `adminPort`), as services.
public func buildApplications(
    configuration: ServerConfiguration, store: RegistryStore, secret: [UInt8], logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    onAdminRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> [Application<RouterResponder<BasicRequestContext>>] {
    let router = Router(context: BasicRequestContext.self)
    let address = ServerAddress(host: configuration.host, port: configuration.port)
    router.middlewares.add(AccessLogMiddleware())
    let tokens = TokenAuthority(secret: secret, clock: store.clock)
    let ingest = Ingest(store: store)
    let pullThrough = PullThroughCache(store: store, ingest: ingest)
    let pullTimes = PullTimes()
    OCIController(
        store: store, ingest: ingest, tokens: tokens, configuration: configuration, pullThrough: pullThrough,
        pullTimes: pullTimes
    )
    .register(on: router)
    ECRController(
        store: store, ingest: ingest, tokens: tokens, configuration: configuration, address: address,
        pullThrough: pullThrough, pullTimes: pullTimes
    )
    .register(on: router)
    let admin = AdminController(
        store: store, configuration: configuration, address: address, tokens: tokens, ingest: ingest)
    let adminRouter: Router<BasicRequestContext>
    if configuration.adminPort == nil {
        adminRouter = router
    } else {
        adminRouter = Router(context: BasicRequestContext.self)
        adminRouter.middlewares.add(AccessLogMiddleware())
    }
    admin.register(on: adminRouter)
    let server = HTTPServerBuilder.stowage(.init(additionalChannelHandlers: [ExpectContinueHandler()]))
    var applications = [
        Application(
            router: router, server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "Stowage"),
            services: [
                GarbageCollector(store: store, interval: configuration.garbageCollectionInterval),
                LifecycleService(store: store, interval: configuration.garbageCollectionInterval),
            ],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                address.bound(to: port)
                await onServerRunning(port)
            },
            logger: logger)
    ]
    if let adminPort = configuration.adminPort {
        applications.append(
            Application(
                router: adminRouter, server: server,
                configuration: .init(address: .hostname(configuration.host, port: adminPort), serverName: "Stowage"),
                onServerRunning: { channel in await onAdminRunning(channel.localAddress?.port ?? adminPort) },
                logger: logger))
    }
    return applications
}

/// The `/_admin` routes the server answers, as `METHOD path` (what `admin-api.md` must document).
public let adminRoutes: [String] = AdminController.routes
