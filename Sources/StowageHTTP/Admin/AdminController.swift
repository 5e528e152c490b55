import Foundation
import HTTPTypes
import HashTreeCollections
import Hummingbird
import StowageCore
import StowageStorage

/// The `/_admin` API (see `admin-api.md`).
struct AdminController: Sendable {
    let store: RegistryStore
    let configuration: ServerConfiguration
    let address: ServerAddress
    let tokens: TokenAuthority

    /// Every route this controller serves, as `METHOD path`; `admin-api.md` must document each.
    static let routes = [
        "GET /_admin/health",
        "GET /_admin/stats",
        "POST /_admin/compact",
        "GET /_admin/repositories",
        "POST /_admin/repositories",
        "POST /_admin/token",
    ]

    func register(on router: Router<BasicRequestContext>) {
        router.get("/_admin/health") { _, _ in try health() }
        router.get("/_admin/stats") { _, _ in try await stats() }
        router.post("/_admin/compact") { _, _ in try await compact() }
        router.get("/_admin/repositories") { request, _ in try listRepositories(request) }
        router.post("/_admin/repositories") { request, _ in try await createRepository(request) }
        router.post("/_admin/token") { request, _ in try token(request) }
    }

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
            var repositories: Int
            var images: Int
            var tags: Int
            var blobLinks: Int
            var blobs: Int
            var uploadsInFlight: Int
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
        return try JSONResponse.make(
            Body(
                sequence: store.sequence, logBytes: facts.logBytes, firstLogSequence: facts.firstSequence,
                snapshots: facts.snapshots, repositories: counts.repositories, images: counts.images,
                tags: counts.tags, blobLinks: counts.blobLinks, blobs: store.content.blobDigests().count,
                uploadsInFlight: counts.uploads,
                recovery: Recovery(
                    snapshotSequence: r.snapshotSequence, replayed: r.replayed,
                    snapshotsSetAside: r.snapshotsSetAside, spoolsRepaired: r.spoolsRepaired),
                residentBytes: residentBytes()))
    }

    func compact() async throws -> Response {
        let info = try await store.compact()
        struct Body: Encodable {
            var sequence: UInt64
            var bytes: Int
        }
        return try JSONResponse.make(Body(sequence: info.sequence, bytes: info.bytes))
    }

    func listRepositories(_ request: Request) throws -> Response {
        let scope = try scope(request)
        struct Entry: Encodable {
            var name: String
            var images: Int
            var tags: Int
            var createdAt: Int64
        }
        let entries = store.state[scope].repositories.values.sorted { $0.name < $1.name }.map {
            Entry(name: $0.name.rawValue, images: $0.images.count, tags: $0.tags.count, createdAt: $0.createdAt.millisecondsSinceEpoch)
        }
        return try JSONResponse.make(["repositories": entries])
    }

    func createRepository(_ request: Request) async throws -> Response {
        struct Input: Decodable {
            var name: String
            var tagMutability: TagMutability?
        }
        let input: Input
        do { input = try await JSONResponse.decode(Input.self, from: request) } catch {
            throw AdminError(.badRequest, "InvalidRequest", "expected a JSON body {\"name\": \"...\"}: \(error)")
        }
        guard let name = RepositoryName(input.name) else {
            throw AdminError(.badRequest, "InvalidName", "'\(input.name)' is not a valid repository name")
        }
        let scope = try scope(request)
        let envelope: Envelope
        do {
            envelope = try await store.submit(
                .createRepository(name: name, settings: RepositorySettings(tagMutability: input.tagMutability ?? .mutable)),
                scope: scope)
        } catch let error as RegistryError {
            throw AdminError(error)
        }
        struct Body: Encodable {
            var name: String
            var repositoryUri: String
            var sequence: UInt64
        }
        return try JSONResponse.make(
            Body(name: name.rawValue, repositoryUri: "\(address.authority)/\(name)", sequence: envelope.sequence),
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
            Body(password: token, expiresAt: expiresAt.millisecondsSinceEpoch, account: scope.account.rawValue, region: scope.region.rawValue))
    }

    /// The account and region from `?account=&region=`, else the defaults.
    private func scope(_ request: Request) throws -> Scope {
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

/// The process's resident memory in bytes, from `/proc/self/statm`.
func residentBytes() -> Int64? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int64(fields[1]) else { return nil }
    return pages * 4096
}
