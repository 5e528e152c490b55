import FoundationEssentials
import HTTPTypes
import HashTreeCollections
public import Hummingbird
import HummingbirdCore
public import Logging
public import StowageStorage

/// The applications `stowage serve` runs (the end-to-end tests start that binary; the in-process
/// tests drive ``buildResponders(configuration:store:secret:address:ingest:)``): one listener for `/v2`, the ECR
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
) -> [Application<StowageResponder>] {
    let address = ServerAddress(host: configuration.host, port: configuration.port)
    let (responder, adminResponder) = buildResponders(
        configuration: configuration, store: store, secret: secret, address: address)
    let server = HTTPServerBuilder.stowage(.init(additionalChannelHandlers: [ExpectContinueHandler()]))
    var applications = [
        Application(
            responder: responder, server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "Stowage"),
            // A replay writes nothing: no collection, no expiry.
            services: store.configuration.readOnly
                ? []
                : [
                    BackgroundService.garbageCollector(store, every: configuration.garbageCollectionInterval),
                    BackgroundService.lifecycle(store, every: configuration.garbageCollectionInterval),
                    BackgroundService.uploadExpiry(
                        store, after: configuration.uploadTimeout, every: configuration.garbageCollectionInterval),
                ],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                address.bound(to: port)
                await onServerRunning(port)
            },
            logger: logger)
    ]
    if let adminPort = configuration.adminPort, let adminResponder {
        applications.append(
            Application(
                responder: adminResponder, server: server,
                configuration: .init(address: .hostname(configuration.host, port: adminPort), serverName: "Stowage"),
                onServerRunning: { channel in await onAdminRunning(channel.localAddress?.port ?? adminPort) },
                logger: logger))
    }
    return applications
}

/// The responders of the listeners: `/v2` straight to the OCI controller, the rest through a router.
func buildResponders(
    configuration: ServerConfiguration, store: RegistryStore, secret: [UInt8], address: ServerAddress,
    ingest: Ingest? = nil
) -> (main: StowageResponder, admin: StowageResponder?) {
    let (router, adminRouter, oci) = buildRouters(
        configuration: configuration, store: store, secret: secret, address: address, ingest: ingest)
    return (
        StowageResponder(oci: oci, router: router.buildResponder()),
        adminRouter.map { StowageResponder(oci: nil, router: $0.buildResponder()) }
    )
}

/// The routers of the listeners: `/v2`, the ECR API and (without `adminPort`) `/_admin` on the
/// first; with `adminPort`, `/_admin` on the second. The in-process tests drive these directly.
func buildRouters(
    configuration: ServerConfiguration, store: RegistryStore, secret: [UInt8], address: ServerAddress,
    ingest: Ingest? = nil
) -> (main: Router<BasicRequestContext>, admin: Router<BasicRequestContext>?, oci: OCIController) {
    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(AccessLogMiddleware())
    let tokens = TokenAuthority(secret: secret, clock: store.clock)
    let ingest = ingest ?? Ingest(store: store)
    let pullThrough = PullThroughCache(store: store, ingest: ingest)
    let pullTimes = PullTimes()
    let edge = EdgeControls()
    let oci = OCIController(
        store: store, ingest: ingest, tokens: tokens, configuration: configuration, pullThrough: pullThrough,
        pullTimes: pullTimes, edge: edge)
    ECRController(
        store: store, ingest: ingest, tokens: tokens, configuration: configuration, address: address,
        pullThrough: pullThrough, pullTimes: pullTimes, edge: edge
    )
    .register(on: router)
    let admin = AdminController(
        store: store, configuration: configuration, address: address, tokens: tokens, ingest: ingest, edge: edge)
    // `GET /`: what this server is and where its faces are.
    let separateAdmin = configuration.adminPort != nil
    router.get("/") { _, _ -> Response in
        struct Body: Encodable {
            var service = "Stowage: a local AWS ECR"
            var oci = "/v2/"
            var ecr = "POST / with X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<operation>"
            var admin: String
            var page: String
        }
        return try JSONResponse.make(
            Body(
                admin: separateAdmin ? "/_admin on the admin listener (--admin-port)" : "/_admin",
                page: separateAdmin ? "/_admin/ui/ on the admin listener" : "/_admin/ui/"))
    }
    guard configuration.adminPort != nil else {
        admin.register(on: router)
        return (router, nil, oci)
    }
    let adminRouter = Router(context: BasicRequestContext.self)
    adminRouter.middlewares.add(AccessLogMiddleware())
    admin.register(on: adminRouter)
    return (router, adminRouter, oci)
}

/// The `/_admin` routes the server answers, as `METHOD path` (what `admin-api.md` must document).
public let adminRoutes: [String] = AdminController.routes
