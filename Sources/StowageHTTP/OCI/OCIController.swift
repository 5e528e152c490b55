import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import Logging
import NIOCore
import StowageCore
import StowageStorage

/// The OCI Distribution v2 API on `/v2`.
///
/// One route per method covers `/v2` and everything below it; ``OCIRoute`` classifies the path
/// from its end. Handlers turn requests into commands and queries, and throw; ``OCIError`` is
/// the only shape an error leaves in.
struct OCIController: Sendable {
    let store: RegistryStore
    let ingest: Ingest
    let tokens: TokenAuthority
    let configuration: ServerConfiguration
    let pullThrough: PullThroughCache
    let pullTimes: PullTimes
    let edge: EdgeControls
    let tagListings = SortedKeys<Tag, TagTarget>()

    /// Answers a `/v2` request (``StowageResponder`` sends them here); `route` is its path, classified.
    func handle(_ request: Request, _ context: BasicRequestContext, route: OCIRoute?) async throws -> Response {
        // What the records this request leads to say made them.
        let origin = "\(request.method) /v2 \(route?.kind ?? "")"
        let switches = store.state.switches ?? Switches()
        do {
            if let wait = edge.admit(rate: switches.rateLimit) {
                var error = OCIError(
                    .tooManyRequests, .tooManyRequests,
                    "more than \(switches.rateLimit ?? 0) requests a second (the rate limit this server was switched to)"
                )
                error.headers[.retryAfter] = String(wait)
                throw error
            }
            var response = try await RegistryStore.$origin.withValue(origin) {
                try await respond(request, context, route: route)
            }
            if let warning = switches.warning { response.headers[.warning] = Self.warning(warning) }
            return response
        } catch var error as OCIError {
            if let warning = switches.warning { error.headers[.warning] = Self.warning(warning) }
            throw error
        }
    }

    /// A `Warning` header as the distribution-spec has them: code 299, agent `-`, a quoted text.
    static func warning(_ text: String) -> String {
        let clean = text.filter { $0 != "\"" && $0 != "\\" && !$0.isNewline }
        return "299 - \"\(clean)\""
    }

    private func respond(_ request: Request, _ context: BasicRequestContext, route: OCIRoute?) async throws
        -> Response
    {
        do {
            var response = try await dispatch(request, context, route: route)
            response.headers[.dockerDistributionAPIVersion] = "registry/2.0"
            return response
        } catch let error as OCIError {
            throw error
        } catch let error as RegistryError {
            throw OCIError(error)
        } catch let error as ManifestError {
            throw OCIError(.badRequest, .manifestInvalid, error.reason)
        } catch let error as StoreReadOnly {
            throw OCIError(.methodNotAllowed, .unsupported, error.description)
        } catch let error as StoreUnavailable {
            context.logger.error("\(error)")
            throw OCIError(.serviceUnavailable, .unavailable, "the registry cannot write right now; its log says why")
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): \(error)")
            throw OCIError(.internalServerError, .unknown, "internal error; the server log has the details")
        }
    }

    private func dispatch(_ request: Request, _ context: BasicRequestContext, route: OCIRoute?) async throws
        -> Response
    {
        let scope = try authorize(request)
        if store.configuration.readOnly && request.method != .get && request.method != .head {
            throw StoreReadOnly()
        }
        if let route { try await interpose(request, route: route, scope: scope) }
        let switches = store.state.switches ?? Switches()
        if request.method == .delete && !switches.deletes {
            throw OCIError(
                .methodNotAllowed, .unsupported,
                "deletes are switched off on this server (POST /_admin/config {\"deletes\": true} turns them on)")
        }
        guard let route else {
            throw OCIError(.notFound, .unsupported, "no OCI endpoint at \(request.uri.path)")
        }
        switch (route, request.method) {
        case (.base, .get), (.base, .head):
            return try JSONResponse.make([String: String](), headers: [:])
        case (.catalog, .get):
            return try catalog(request, scope: scope)
        case (.blob(let name, let digest), .get), (.blob(let name, let digest), .head):
            return try getBlob(request, scope: scope, name: name, digest: digest)
        case (.blob(let name, let digest), .delete):
            return try await deleteBlob(scope: scope, name: name, digest: digest)
        case (.uploads(let name), .post):
            return try await startUpload(request, scope: scope, name: name)
        case (.upload(let name, let id), .patch):
            return try await patchUpload(request, scope: scope, name: name, id: id)
        case (.upload(let name, let id), .put):
            return try await completeUpload(request, scope: scope, name: name, id: id)
        case (.upload(let name, let id), .get):
            return try uploadStatus(scope: scope, name: name, id: id)
        case (.upload(let name, let id), .delete):
            return try await cancelUpload(scope: scope, name: name, id: id)
        case (.manifest(let name, let reference), .get), (.manifest(let name, let reference), .head):
            return try await getManifest(request, scope: scope, name: name, reference: reference)
        case (.manifest(let name, let reference), .put):
            return try await putManifest(request, scope: scope, name: name, reference: reference)
        case (.manifest(let name, let reference), .delete):
            return try await deleteManifest(scope: scope, name: name, reference: reference)
        case (.tags(let name), .get):
            return try listTags(request, scope: scope, name: name)
        case (.referrers(let name, let digest), .get):
            guard store.state.switches?.referrers ?? true else {
                // What a registry without the referrers API answers: clients fall back to the tag schema.
                throw OCIError(
                    .notFound, .unsupported,
                    "the referrers API is switched off on this server; use the tag schema (\(digest.replacing(":", with: "-")))"
                )
            }
            return try referrers(request, scope: scope, name: name, digest: digest)
        default:
            throw OCIError(.methodNotAllowed, .unsupported, "\(request.method) is not supported on \(request.uri.path)")
        }
    }

    // MARK: Shared checks

    /// The account-region the request acts in, from its token; 401 without a valid one.
    func authorize(_ request: Request) throws(OCIError) -> Scope {
        let named = request.head.authority.flatMap(Scope.init(host:))
        let scope = try credentialScope(request) ?? named ?? .default
        // A request to an ECR-shaped host acts in the account-region it names: its token must agree.
        if let named, configuration.auth == .ecr, named != scope {
            throw OCIError(
                .forbidden, .denied,
                "this host is the registry of \(named.account) in \(named.region), but the token acts in \(scope.account) in \(scope.region)"
            )
        }
        return scope
    }

    /// The account-region the request's credentials act in; `nil` without authentication.
    private func credentialScope(_ request: Request) throws(OCIError) -> Scope? {
        guard configuration.auth == .ecr else { return nil }
        // A download URL from GetDownloadUrlForLayer carries its own grant for one blob.
        let query = request.uri.queryParameters
        if let grant = query["X-Stowage-Grant"], let signature = query["X-Stowage-Signature"],
            request.method == .get || request.method == .head,
            case .blob(let rawName, let rawDigest)? = OCIRoute(path: request.uri.path),
            let name = RepositoryName(rawName),
            let digest = Digest(rawDigest),
            let scope = tokens.verifyDownload(
                grant: String(grant), signature: String(signature), name: name, digest: digest)
        {
            return scope
        }
        do {
            return try tokens.scope(fromAuthorization: request.headers[.authorization])
        } catch {
            let why =
                switch error {
                case .expired: "the token has expired; get a new one (tokens last 12 hours)"
                case .badSignature: "the token was not issued by this registry"
                case .malformed:
                    "log in with username AWS and a password from GetAuthorizationToken or `stowage login-password`"
                }
            var failure = OCIError(.unauthorized, .unauthorized, "authentication required: \(why)")
            failure.headers[.wwwAuthenticate] = "Basic realm=\"Stowage\""
            throw failure
        }
    }

    func repositoryName(_ raw: String) throws(OCIError) -> RepositoryName {
        guard let name = RepositoryName(raw) else {
            throw OCIError(.badRequest, .nameInvalid, "'\(raw)' is not a valid repository name", detail: ["name": raw])
        }
        return name
    }

    /// The repository, or `NAME_UNKNOWN`.
    func repository(_ name: RepositoryName, in scope: Scope) throws(OCIError) -> Repository {
        guard let repository = store.state[scope].repositories[name] else {
            throw OCIError(
                .notFound, .nameUnknown, "repository '\(name)' does not exist", detail: ["name": name.rawValue])
        }
        return repository
    }

    /// What a push may do when its repository does not exist: create it with a CREATE_ON_PUSH
    /// template (as ECR does), or in any case with `--create-on-push`. The writer decides.
    var pushCreation: RepositoryCreation {
        .onPush(always: configuration.createOnPush || configuration.profile == .spec)
    }

    /// Answers `NAME_UNKNOWN` early, before a body is read, for a push into a repository that does
    /// not exist and would not be created. Only a shortcut: the writer decides when the push is logged.
    func refuseEarly(_ name: RepositoryName, in scope: Scope) async throws {
        let state = store.state
        guard state[scope].repositories[name] == nil, state.creation(of: name, in: scope, pushCreation) == nil else {
            return
        }
        try await pushing(into: name) { throw RegistryError.repositoryNotFound(name) }
    }

    /// Runs a push into `name`, saying how to get the repository when the push needs one that is missing.
    func pushing<T>(into name: RepositoryName, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch RegistryError.repositoryNotFound(let missing) where missing == name {
            throw OCIError(
                .notFound, .nameUnknown,
                "repository '\(name)' does not exist; create it first (ECR CreateRepository, POST /_admin/repositories), add a CREATE_ON_PUSH repository creation template, or start the server with --create-on-push",
                detail: ["name": name.rawValue])
        }
    }

    func digest(_ raw: String) throws(OCIError) -> Digest {
        guard let digest = Digest(raw) else {
            throw OCIError(
                .badRequest, .digestInvalid, "'\(raw)' is not a valid digest (sha256:<64 hex> or sha512:<128 hex>)")
        }
        return digest
    }

    static func empty(_ status: HTTPResponse.Status, _ headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentLength] = "0"
        return Response(status: status, headers: headers)
    }
}

extension OCIController {
    /// An injected fault for this request, if one matches: logged, then a delay, a dropped
    /// connection or an OCI error in its place.
    func interpose(_ request: Request, route: OCIRoute, scope: Scope) async throws {
        let described = EdgeControls.Request(
            face: .oci, method: request.method.rawValue, route: route.kind, repository: route.repository,
            account: scope.account.rawValue, upload: route.upload, line: "\(request.method) \(request.uri.path)")
        guard let fault = try await edge.interpose(described, store: store, scope: scope) else { return }
        let status = HTTPResponse.Status(code: fault.answer.status ?? 500)
        let code = fault.answer.code.flatMap(OCIErrorCode.init(rawValue:)) ?? OCIErrorCode.fitting(status)
        var error = OCIError(status, code, fault.answer.message ?? "injected \(fault.answerSummary)")
        if status == .tooManyRequests { error.headers[.retryAfter] = "1" }
        throw error
    }
}

extension OCIErrorCode {
    /// The code a status most often comes with.
    static func fitting(_ status: HTTPResponse.Status) -> OCIErrorCode {
        switch status.code {
        case 401: .unauthorized
        case 403: .denied
        case 404: .nameUnknown
        case 416: .rangeInvalid
        case 429: .tooManyRequests
        case 503: .unavailable
        case 500...599: .unknown
        default: .unsupported
        }
    }
}
