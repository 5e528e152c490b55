import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import Logging
import NIOCore
import StowageCore
import StowageStorage

/// The ECR JSON API: `POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`.
///
/// The caller's account and region come from the SigV4 `Authorization` header's credential scope
/// (region) and access key (account: a configured mapping, else the key itself when it is 12
/// digits, else `000000000000`). Signatures are not verified: this is a local stand-in.
struct ECRController: Sendable {
    let store: RegistryStore
    let ingest: Ingest
    let tokens: TokenAuthority
    let configuration: ServerConfiguration
    let address: ServerAddress
    let pullThrough: PullThroughCache
    let pullTimes: PullTimes
    let edge: EdgeControls
    /// Each repository's image digests in order, for `DescribeImages`.
    let imageListings = SortedKeys<Digest, Image>()

    static let targetPrefix = "AmazonEC2ContainerRegistry_V20150921."

    func register(on router: Router<BasicRequestContext>) {
        router.post("/") { request, context in try await handle(request, context) }
    }

    func handle(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let target = request.headers[.amzTarget] else {
            throw ECRError(.unknownOperation, "POST / needs an X-Amz-Target header naming an ECR operation")
        }
        guard target.hasPrefix(Self.targetPrefix) else {
            throw ECRError(.unknownOperation, "'\(target)' is not an operation of AmazonEC2ContainerRegistry_V20150921")
        }
        let name = String(target.dropFirst(Self.targetPrefix.count))
        guard let action = ECRAction(rawValue: name) else {
            throw ECRError(.unknownOperation, "'\(name)' is not an ECR operation")
        }
        if store.configuration.readOnly && !action.onlyReads {
            throw ECRError(.unsupportedOperation, "\(name): \(StoreReadOnly())")
        }
        if let rate = store.state.switches?.rateLimit, edge.admit(rate: rate) != nil {
            throw ECRError(
                .throttling,
                "Rate exceeded: more than \(rate) requests a second (the rate limit this server was switched to)")
        }
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: 64 << 20) } catch {
            throw ECRError(.invalidParameter, "the request body is larger than 64 MiB")
        }
        let input = try ECRInput(Array(body.readableBytesView))
        let scope = identity(request)
        if let registry = try input.string("registryId", required: false) {
            guard AccountID(registry) != nil else {
                throw ECRInput.invalid("registryId", "Member must satisfy regular expression pattern: [0-9]{12}")
            }
            guard registry == scope.account.rawValue else {
                throw ECRError(
                    .invalidParameter,
                    "registryId \(registry) is not the caller's account \(scope.account); cross-account access is not emulated"
                )
            }
        }
        try await interpose(action, input: input, scope: scope)
        let call = ECRCall(controller: self, input: input, scope: scope, seenAs: request.head.authority)
        do {
            let output = try await RegistryStore.$origin.withValue("ECR \(action.rawValue)") {
                try await call.perform(action)
            }
            return try ECRResponse.make(output)
        } catch let error as ECRError {
            throw error
        } catch let error as RegistryError {
            throw ECRError(error, scope: scope)
        } catch let error as StoreReadOnly {
            throw ECRError(.unsupportedOperation, error.description)
        } catch let error as StoreUnavailable {
            context.logger.error("\(error)")
            throw ECRError(.serverException, "the registry cannot write right now; its log says why")
        } catch {
            context.logger.error("ECR \(name): \(error)")
            throw ECRError(.serverException, "internal error; the server log has the details")
        }
    }

    /// The caller's account and region from the SigV4 credential scope.
    func identity(_ request: Request) -> Scope {
        guard let header = request.headers[.authorization] else { return .default }
        // Byte search: Foundation's `range(of:)` costs a locale-aware comparison per call.
        let bytes = Array(header.utf8)
        let marker = Array("Credential=".utf8)
        guard bytes.count >= marker.count,
            let start = (0...(bytes.count - marker.count)).first(where: {
                bytes[$0..<($0 + marker.count)].elementsEqual(marker)
            })
        else { return .default }
        let value = bytes[(start + marker.count)...].prefix { $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: " ") }
        let credential = String(decoding: value, as: UTF8.self)
        let parts = credential.split(separator: "/")
        let key = parts.first.map(String.init) ?? ""
        let region = parts.count >= 3 ? Region(String(parts[2])) ?? .default : .default
        let account = configuration.accounts[key] ?? AccountID(key) ?? .default
        return Scope(account: account, region: region)
    }

    func repositoryURI(_ name: RepositoryName, in scope: Scope, seenAs host: String?) -> String {
        "\(address.registry(for: scope, host: configuration.registryHost, seenBy: host))/\(name)"
    }

    static func arn(_ name: RepositoryName, _ scope: Scope) -> String {
        "arn:aws:ecr:\(scope.region):\(scope.account):repository/\(name)"
    }
}

/// One ECR call: its input and the caller's account-region.
struct ECRCall {
    let controller: ECRController
    let input: ECRInput
    let scope: Scope
    /// The `Host` the caller reached this server at: the registry host of its URIs.
    let seenAs: String?

    var store: RegistryStore { controller.store }
    var registryId: String { scope.account.rawValue }

    /// What an operation does with a call: its output, or a thrown error.
    typealias Operation = @Sendable (ECRCall) async throws -> any Encodable

    /// Every operation of the model, from the table of each group.
    static let operations: [ECRAction: Operation] = [
        repositoryOperations, imageOperations, layerOperations, lifecycleOperations, registryOperations,
        scanningOperations, templateOperations, pullThroughOperations,
    ].reduce(into: [:]) { table, group in table.merge(group) { first, _ in first } }

    func perform(_ action: ECRAction) async throws -> any Encodable {
        guard let operation = Self.operations[action] else {
            throw ECRError(
                .unsupportedOperation,
                "Stowage does not implement \(action.rawValue) yet; the README lists the operations it does")
        }
        return try await operation(self)
    }

    /// The repository, or `RepositoryNotFoundException`.
    func repository(_ name: RepositoryName) throws -> Repository {
        guard let repository = store.state[scope].repositories[name] else {
            throw ECRError(RegistryError.repositoryNotFound(name), scope: scope)
        }
        return repository
    }

    /// Submits commands in the caller's account-region; returns what they did.
    @discardableResult
    func submit(_ commands: Command...) async throws -> RegistryStore.Written {
        try await store.write(commands, scope: scope)
    }
}

extension ECRController {
    /// An injected fault for this call, if one matches: logged, then a delay, a dropped connection
    /// or an ECR exception in its place.
    func interpose(_ action: ECRAction, input: ECRInput, scope: Scope) async throws {
        let repository = try? input.string("repositoryName", required: false)
        let described = EdgeControls.Request(
            face: .ecr, method: "POST", route: action.rawValue, repository: repository,
            account: scope.account.rawValue,
            upload: (try? input.string("uploadId", required: false)).flatMap(UploadID.init),
            line: "ECR \(action.rawValue)" + (repository.map { " \($0)" } ?? ""))
        guard let fault = try await edge.interpose(described, store: store, scope: scope) else { return }
        let status = HTTPResponse.Status(code: fault.answer.status ?? 500)
        let type =
            fault.answer.code.flatMap(ECRErrorType.init(rawValue:))
            ?? (status.code == 429 ? .throttling : status.code >= 500 ? .serverException : .invalidParameter)
        var error = ECRError(type, fault.answer.message ?? "injected \(fault.answerSummary)")
        error.statusOverride = status
        throw error
    }
}
