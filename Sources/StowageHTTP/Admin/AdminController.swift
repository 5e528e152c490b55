import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import Logging
import NIOCore
import StowageCore
import StowageStorage

/// The `/_admin` API (see `admin-api.md`): reset, checkpoints, rewind, export and import, the
/// log and the state at any point, upload timelines, the clock, statistics.
struct AdminController: Sendable {
    let store: RegistryStore
    let configuration: ServerConfiguration
    let address: ServerAddress
    let tokens: TokenAuthority
    let ingest: Ingest
    let edge: EdgeControls

    var importer: Importer { Importer(store: store, ingest: ingest) }

    /// One endpoint of the admin API: what both the router and the `admin-api.md` agreement test read.
    struct Route: Sendable {
        var method: HTTPRequest.Method
        /// The path under `/_admin`, as documented: `{id}` for a parameter.
        var path: String
        var handle: @Sendable (AdminController, Request, BasicRequestContext) async throws -> Response

        init(
            _ method: HTTPRequest.Method, _ path: String,
            _ handle: @escaping @Sendable (AdminController, Request, BasicRequestContext) async throws -> Response
        ) {
            self.method = method
            self.path = path
            self.handle = handle
        }

        /// `METHOD /_admin/path`, as `admin-api.md` heads its sections.
        var documented: String { "\(method) /_admin\(path)" }

        /// The path in Hummingbird's syntax (`:id`).
        var routerPath: String { path.replacing("{id}", with: ":id") }
    }

    /// Every endpoint, in the order `admin-api.md` documents them.
    static let table: [Route] = [
        Route(.get, "") { _, _, _ in try AdminController.index() },
        Route(.get, "/health") { admin, _, _ in try admin.health() },
        Route(.get, "/stats") { admin, _, _ in try await admin.stats() },
        Route(.post, "/reset") { admin, request, _ in try await admin.reset(request) },
        Route(.post, "/checkpoints") { admin, request, _ in try await admin.createCheckpoint(request) },
        Route(.get, "/checkpoints") { admin, _, _ in try admin.listCheckpoints() },
        Route(.post, "/rewind") { admin, request, _ in try await admin.rewind(request) },
        Route(.get, "/export") { admin, request, _ in try await admin.exportRegistry(request) },
        Route(.post, "/import") { admin, request, context in try await admin.importRegistry(request, context) },
        Route(.post, "/compact") { admin, _, _ in try await admin.compact() },
        Route(.get, "/log") { admin, request, _ in try await admin.log(request) },
        Route(.get, "/log/stream") { admin, request, _ in try await admin.logStream(request) },
        Route(.get, "/state") { admin, request, _ in try await admin.state(request) },
        Route(.get, "/diff") { admin, request, _ in try await admin.diff(request) },
        Route(.get, "/tags/history") { admin, request, _ in try await admin.tagHistory(request) },
        Route(.get, "/uploads") { admin, request, _ in try await admin.uploads(request) },
        Route(.get, "/uploads/{id}") { admin, request, context in
            try await admin.upload(request, id: context.parameters.get("id") ?? "")
        },
        Route(.post, "/lifecycle") { admin, _, _ in try await admin.evaluateLifecycle() },
        Route(.post, "/scan-findings") { admin, request, _ in try await admin.seedScanFindings(request) },
        Route(.get, "/clock") { admin, _, _ in try admin.clock() },
        Route(.post, "/clock") { admin, request, _ in try await admin.setClock(request) },
        Route(.get, "/repositories") { admin, request, _ in try admin.listRepositories(request) },
        Route(.post, "/repositories") { admin, request, _ in try await admin.createRepository(request) },
        Route(.get, "/config") { admin, _, _ in try admin.config() },
        Route(.post, "/config") { admin, request, _ in try await admin.configure(request) },
        Route(.get, "/faults") { admin, _, _ in try admin.listFaults() },
        Route(.post, "/faults") { admin, request, _ in try await admin.addFault(request) },
        Route(.delete, "/faults") { admin, request, _ in try admin.removeFaults(request) },
        Route(.get, "/replay") { admin, _, _ in try await admin.replay() },
        Route(.post, "/replay") { admin, request, _ in try await admin.moveReplay(request) },
        Route(.post, "/token") { admin, request, _ in try admin.token(request) },
        Route(.get, "/ui/") { admin, request, _ in try admin.page(request, asset: "index.html") },
        Route(.get, "/ui/{asset}") { admin, request, context in
            try admin.page(request, asset: context.parameters.get("asset") ?? "")
        },
    ]

    /// The routes a replay (read-only) serves: every read, a token, and its own view's move.
    static func servesInReplay(_ route: Route) -> Bool {
        route.method == .get || route.path == "/token" || route.path == "/replay"
    }

    /// Every route this controller serves, as `METHOD path`; `admin-api.md` must document each.
    static var routes: [String] { table.map(\.documented) }

    func register(on router: Router<BasicRequestContext>) {
        let group = router.group("/_admin").add(middleware: AdminTokenMiddleware(token: configuration.adminToken))
        for route in Self.table {
            let refused = store.configuration.readOnly && !Self.servesInReplay(route)
            group.on(RouterPath(route.routerPath), method: route.method) { request, context in
                if refused { throw AdminError(.conflict, "ReadOnly", StoreReadOnly().description) }
                do {
                    return try await RegistryStore.$origin.withValue("admin \(route.method) \(route.path)") {
                        try await route.handle(self, request, context)
                    }
                } catch let error as StoreReadOnly {
                    throw AdminError(.conflict, "ReadOnly", error.description)
                }
            }
        }
        // Anything else under /_admin: the admin API's own error, pointing at the list.
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete] {
            group.on("**", method: method) { request, _ -> Response in
                throw AdminError(
                    .notFound, "NotFound",
                    "there is no admin endpoint \(request.method) \(request.uri.path); GET /_admin lists them (admin-api.md describes each)"
                )
            }
        }
    }

    /// `GET /_admin`: the endpoints, as `admin-api.md` heads them.
    static func index() throws -> Response {
        struct Body: Encodable {
            var service = "Stowage admin API"
            var page = "/_admin/ui/"
            var endpoints: [String]
            /// The record kinds `?kind=` of `/_admin/log` takes.
            var kinds = Command.kinds
        }
        return try JSONResponse.make(Body(endpoints: routes))
    }

    // MARK: Health and statistics

    func health() throws -> Response {
        struct Body: Encodable {
            var status = "ok"
            var sequence: UInt64
        }
        return try JSONResponse.make(Body(sequence: store.sequence))
    }

    func stats() async throws -> Response {
        struct Body: Encodable {
            var sequence: UInt64
            var logBytes: Int64
            var firstLogSequence: UInt64
            var snapshots: [UInt64]
            var lastSnapshot: UInt64?
            var repositories: Int
            var images: Int
            var tags: Int
            var blobLinks: Int
            var blobs: Int
            var blobBytes: Int64
            var uploadsInFlight: Int
            var checkpoints: Int
            var recovery: Recovery
            var residentBytes: Int64?
        }
        struct Recovery: Encodable {
            var snapshotSequence: UInt64
            var replayed: Int
            var snapshotsSetAside: [String]
            var spoolsRepaired: Int
        }
        let facts = await store.storageFacts()
        let state = store.state
        let counts = state.counts
        let r = store.recovery
        let blobs = store.content.blobDigests()
        return try JSONResponse.make(
            Body(
                sequence: store.sequence, logBytes: facts.logBytes, firstLogSequence: facts.firstSequence,
                snapshots: facts.snapshots, lastSnapshot: facts.snapshots.first, repositories: counts.repositories,
                images: counts.images, tags: counts.tags, blobLinks: counts.blobLinks, blobs: blobs.count,
                blobBytes: blobs.reduce(0) { $0 + (store.content.blobSize($1) ?? 0) }, uploadsInFlight: counts.uploads,
                checkpoints: state.checkpoints.count,
                recovery: Recovery(
                    snapshotSequence: r.snapshotSequence, replayed: r.replayed,
                    snapshotsSetAside: r.snapshotsSetAside, spoolsRepaired: r.spoolsRepaired),
                residentBytes: ProcessUsage.residentBytes().map(Int64.init)))
    }

    func compact() async throws -> Response {
        let info = try await store.compact()
        struct Body: Encodable {
            var sequence: UInt64
            var bytes: Int
            var unitsCopied: Int
            var unitsWritten: Int
        }
        return try JSONResponse.make(
            Body(
                sequence: info.sequence, bytes: info.bytes, unitsCopied: info.unitsCopied,
                unitsWritten: info.unitsWritten))
    }

    // MARK: Reset, checkpoints, rewind

    /// `POST /_admin/reset[?account=&region=]`: everything, or one account-region, emptied in O(1).
    func reset(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let scoped = query["account"] != nil || query["region"] != nil
        if let to = query["to"].map(String.init) {
            // Back to a checkpoint (`fixture`, where `serve --fixture` left the registry): O(1).
            guard !scoped else {
                throw AdminError(
                    .badRequest, "InvalidRequest",
                    "?to= returns the whole registry to a checkpoint; it takes no ?account= or ?region=")
            }
            guard let name = CheckpointName(to) else {
                throw AdminError(.badRequest, "InvalidName", "'\(to)' is not a checkpoint name")
            }
            return try await rewound(to: .checkpoint(name))
        }
        let envelope = try await submit(.reset(extent: scoped ? .scope : .everything), scope: try scope(request))
        return try JSONResponse.make(["sequence": envelope.sequence])
    }

    func createCheckpoint(_ request: Request) async throws -> Response {
        struct Input: Decodable { var name: String }
        let input = try await decode(Input.self, request, example: #"{"name": "baseline"}"#)
        guard let name = CheckpointName(input.name) else {
            throw AdminError(
                .badRequest, "InvalidName", "a checkpoint name is 1 to 128 of [A-Za-z0-9._-], not '\(input.name)'")
        }
        let envelope = try await submit(.checkpoint(name: name), scope: .default)
        return try JSONResponse.make(
            StateView.CheckpointView(
                name: name.rawValue, sequence: envelope.sequence, time: RFC3339.format(envelope.time)),
            status: .created)
    }

    func listCheckpoints() throws -> Response {
        let checkpoints = store.state.checkpoints.values.sorted { $0.sequence < $1.sequence }.map {
            StateView.CheckpointView(name: $0.name.rawValue, sequence: $0.sequence, time: RFC3339.format($0.time))
        }
        return try JSONResponse.make(["checkpoints": checkpoints])
    }

    /// `POST /_admin/rewind {"to": "<checkpoint>" | <sequence>}`.
    func rewind(_ request: Request) async throws -> Response {
        struct Input: Decodable {
            var to: Target
            enum Target: Decodable {
                case name(String)
                case sequence(UInt64)
                init(from decoder: any Decoder) throws {
                    let container = try decoder.singleValueContainer()
                    if let sequence = try? container.decode(UInt64.self) {
                        self = .sequence(sequence)
                    } else {
                        self = .name(try container.decode(String.self))
                    }
                }
            }
        }
        let input = try await decode(Input.self, request, example: #"{"to": "baseline"} or {"to": 42}"#)
        let target: RegistryStore.RewindTarget
        switch input.to {
        case .sequence(let sequence): target = .sequence(sequence)
        case .name(let text):
            if let sequence = UInt64(text) {
                target = .sequence(sequence)
            } else {
                guard let name = CheckpointName(text) else {
                    throw AdminError(.badRequest, "InvalidName", "'\(text)' is not a checkpoint name")
                }
                target = .checkpoint(name)
            }
        }
        return try await rewound(to: target)
    }

    /// Rewinds, and answers with the new record and what it restored.
    private func rewound(to target: RegistryStore.RewindTarget) async throws -> Response {
        let envelope: Envelope
        do { envelope = try await store.rewind(to: target) } catch let error as RegistryStore.HistoryError {
            throw AdminError(.conflict, "HistoryUnavailable", error.description)
        } catch let error as RegistryError {
            throw AdminError(error)
        }
        guard case .restore(_, .rewind(let restored, let checkpoint)) = envelope.command else {
            throw AdminError(.internalServerError, "Internal", "unexpected record")
        }
        struct Body: Encodable {
            var sequence: UInt64
            var restored: UInt64
            var checkpoint: String?
        }
        return try JSONResponse.make(
            Body(sequence: envelope.sequence, restored: restored, checkpoint: checkpoint?.rawValue))
    }

    // MARK: Repositories and tokens

    func listRepositories(_ request: Request) throws -> Response {
        let scope = try scope(request)
        struct Entry: Encodable {
            var name: String
            var images: Int
            var tags: Int
            var createdAt: Int64
        }
        let entries = store.state[scope].repositories.values.sorted { $0.name < $1.name }.map {
            Entry(
                name: $0.name.rawValue, images: $0.images.count, tags: $0.tags.count,
                createdAt: $0.createdAt.millisecondsSinceEpoch)
        }
        return try JSONResponse.make(["repositories": entries])
    }

    func createRepository(_ request: Request) async throws -> Response {
        struct Input: Decodable {
            var name: String
            var tagMutability: TagMutability?
        }
        let input = try await decode(Input.self, request, example: #"{"name": "team/app"}"#)
        guard let name = RepositoryName(input.name) else {
            throw AdminError(.badRequest, "InvalidName", "'\(input.name)' is not a valid repository name")
        }
        let envelope = try await submit(
            .createRepository(name: name, settings: RepositorySettings(tagMutability: input.tagMutability ?? .mutable)),
            scope: try scope(request))
        struct Body: Encodable {
            var name: String
            var repositoryUri: String
            var sequence: UInt64
        }
        return try JSONResponse.make(
            Body(
                name: name.rawValue,
                repositoryUri:
                    "\(address.registry(for: try scope(request), host: configuration.registryHost, seenBy: request.head.authority))/\(name)",
                sequence: envelope.sequence),
            status: .created)
    }

    /// A password for `docker login -u AWS` in an account-region, as `aws ecr get-login-password` gives.
    func token(_ request: Request) throws -> Response {
        let scope = try scope(request)
        let (token, expiresAt) = tokens.issue(for: scope)
        struct Body: Encodable {
            var password: String
            var username = "AWS"
            var expiresAt: Int64
            var account: String
            var region: String
        }
        return try JSONResponse.make(
            Body(
                password: token, expiresAt: expiresAt.millisecondsSinceEpoch, account: scope.account.rawValue,
                region: scope.region.rawValue))
    }

    // MARK: The clock

    func clock() throws -> Response {
        let now = store.clock.now()
        return try JSONResponse.make(ClockBody(now: RFC3339.format(now), milliseconds: now.millisecondsSinceEpoch))
    }

    /// `POST /_admin/clock {"set": "<RFC 3339>"}` or `{"advance": "72h"}`.
    func setClock(_ request: Request) async throws -> Response {
        struct Input: Decodable {
            var set: String?
            var advance: String?
        }
        let input = try await decode(
            Input.self, request, example: #"{"advance": "72h"} or {"set": "2030-01-01T00:00:00Z"}"#)
        switch (input.set, input.advance) {
        case (let text?, nil):
            guard let time = RFC3339.parse(text) else {
                throw AdminError(
                    .badRequest, "InvalidTime", "'\(text)' is not an RFC 3339 time such as 2030-01-01T00:00:00Z")
            }
            try await store.moveClock(toOffset: store.clock.offset(toRead: time))
        case (nil, let text?):
            guard let milliseconds = parseDuration(text) else {
                throw AdminError(
                    .badRequest, "InvalidDuration", "'\(text)' is not a duration such as 72h, 90m, 1h30m or 10s")
            }
            let (offset, overflow) = store.clock.offset.addingReportingOverflow(milliseconds)
            guard !overflow else {
                throw AdminError(.badRequest, "InvalidDuration", "'\(text)' moves the clock too far")
            }
            try await store.moveClock(toOffset: offset)
        default:
            throw AdminError(.badRequest, "InvalidRequest", "give exactly one of \"set\" and \"advance\"")
        }
        // Time moved: lifecycle rules and the upload timeout see the new time at once.
        try await store.applyLifecyclePolicies()
        try await store.expireUploads(after: configuration.uploadTimeout)
        return try clock()
    }

    /// `POST /_admin/lifecycle`: evaluates every lifecycle policy now and expires what the rules say.
    func evaluateLifecycle() async throws -> Response {
        struct Entry: Encodable {
            var account: String
            var region: String
            var repository: String
            var digest: String
            var rulePriority: Int
        }
        let expired = try await store.applyLifecyclePolicies().flatMap { result in
            result.expirations.map {
                Entry(
                    account: result.scope.account.rawValue, region: result.scope.region.rawValue,
                    repository: result.repository.rawValue,
                    digest: $0.digest.rawValue, rulePriority: $0.rulePriority)
            }
        }
        return try JSONResponse.make(["expired": expired])
    }

    /// `POST /_admin/scan-findings {"digest": "...", "findings": [...]}`: what scans of that
    /// digest find from now on, in `?account=&region=` (an empty list clears it).
    func seedScanFindings(_ request: Request) async throws -> Response {
        struct Input: Decodable {
            var digest: String
            var findings: [Finding]
            struct Finding: Decodable {
                var name: String
                var description: String?
                var uri: String?
                var severity: String
                var attributes: [String: String]?
            }
        }
        let input = try await decode(
            Input.self, request,
            example: #"{"digest": "sha256:...", "findings": [{"name": "CVE-2024-1234", "severity": "HIGH"}]}"#)
        guard let digest = Digest(input.digest) else {
            throw AdminError(.badRequest, "InvalidDigest", "'\(input.digest)' is not a digest")
        }
        let severities: Set<String> = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNDEFINED"]
        for finding in input.findings where !severities.contains(finding.severity) {
            throw AdminError(
                .badRequest, "InvalidSeverity",
                "severity must be one of \(severities.sorted().joined(separator: ", ")), not '\(finding.severity)'")
        }
        let findings = input.findings.map {
            ScanFinding(
                name: $0.name, description: $0.description, uri: $0.uri, severity: $0.severity,
                attributes: $0.attributes ?? [:])
        }
        let envelope = try await submit(
            .changeRegistrySettings(.seedScanFindings(digest: digest, findings: findings)), scope: try scope(request))
        return try JSONResponse.make(["sequence": envelope.sequence])
    }

    struct ClockBody: Encodable {
        var now: String
        var milliseconds: Int64
    }

    // MARK: Helpers

    /// Submits a command, turning refusals into admin errors.
    func submit(_ command: Command, scope: Scope) async throws -> Envelope {
        do { return try await store.submit(command, scope: scope) } catch let error as RegistryError {
            throw AdminError(error)
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, example: String) async throws -> T {
        do { return try await JSONResponse.decode(type, from: request) } catch {
            throw AdminError(.badRequest, "InvalidRequest", "expected a JSON body like \(example)")
        }
    }

    /// The account and region from `?account=&region=`, else the defaults.
    func scope(_ request: Request) throws -> Scope {
        let query = request.uri.queryParameters
        guard let account = AccountID(query["account"].map(String.init) ?? AccountID.default.rawValue) else {
            throw AdminError(.badRequest, "InvalidAccount", "account must be 12 digits")
        }
        guard let region = Region(query["region"].map(String.init) ?? Region.default.rawValue) else {
            throw AdminError(.badRequest, "InvalidRegion", "region must look like us-east-1")
        }
        return Scope(account: account, region: region)
    }
}

/// Bearer-token protection of `/_admin` when the server runs with `--admin-token`.
struct AdminTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let token, request.headers[.authorization] != "Bearer \(token)",
            AdminController.cookieToken(request) != token,
            !(request.uri.path == "/_admin/ui/" && request.uri.queryParameters["token"].map(String.init) == token)
        {
            throw AdminError(
                .unauthorized, "Unauthorized",
                "this server's admin API needs `Authorization: Bearer <the --admin-token value>`; for the page, open /_admin/ui/?token=<the --admin-token value> once"
            )
        }
        return try await next(request, context)
    }
}
