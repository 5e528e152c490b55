import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import StowageCore
import StowageStorage
import Testing

@testable import StowageHTTP

/// The listener's responder driven in process, without a socket: it answers a `Request` as the
/// server would.
final class InProcessServer: Sendable {
    let store: RegistryStore
    let responder: StowageResponder
    let tokens: TokenAuthority
    static let secret = [UInt8](repeating: 7, count: 32)

    init(auth: AuthMode = .ecr, _ configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        store = try RegistryStore(
            configuration: EngineConfiguration(location: .memory, fsync: .never), clock: ManualClock())
        var configuration = ServerConfiguration(port: 5999, auth: auth)
        configure(&configuration)
        responder =
            buildResponders(
                configuration: configuration, store: store, secret: Self.secret,
                address: ServerAddress(host: "127.0.0.1", port: 5999)
            ).main
        tokens = TokenAuthority(secret: Self.secret, clock: store.clock)
    }

    struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: [UInt8]

        var json: JSONValue? { try? JSONValue.parse(body) }
        /// The error code in the answer's own protocol: OCI's `errors[0].code`, ECR's `__type`, the admin API's `error.code`.
        var code: String? {
            json?["errors"]?.arrayValue?.first?["code"]?.stringValue ?? json?["__type"]?.stringValue
                ?? json?["error"]?["code"]?.stringValue
        }
    }

    /// Basic `AWS:<token>` for the default account and region.
    var login: HTTPFields {
        let token = tokens.issue(for: .default).token
        return [.authorization: "Basic " + Data("AWS:\(token)".utf8).base64EncodedString()]
    }

    func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: [UInt8] = []) async throws
        -> Answer
    {
        var headers = headers
        if !body.isEmpty { headers[.contentLength] = String(body.count) }
        let request = Request(
            head: HTTPRequest(
                method: method, scheme: "http", authority: "127.0.0.1:5999", path: path, headerFields: headers),
            body: RequestBody(buffer: ByteBuffer(bytes: body)))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let context = BasicRequestContext(
            source: ApplicationRequestContextSource(
                channel: EmbeddedChannel(), logger: logger.with(metadataKey: "hb.request.id", value: "1")))
        let response: Response
        do { response = try await responder.respond(to: request, context: context) } catch let error
            as any HTTPResponseError
        {
            response = try error.response(from: request, context: context)
        }
        let collected = Collected()
        try await response.body.write(CollectingWriter(into: collected))
        return Answer(status: response.status, headers: response.headers, body: collected.bytes)
    }

    /// ECR JSON 1.1: `POST /` with the operation in `X-Amz-Target`.
    func ecr(_ operation: String?, _ body: String) async throws -> Answer {
        var headers: HTTPFields = [.contentType: "application/x-amz-json-1.1"]
        if let operation { headers[.amzTarget] = "AmazonEC2ContainerRegistry_V20150921." + operation }
        return try await send(.post, "/", headers: headers, body: Array(body.utf8))
    }
}

private final class Collected: @unchecked Sendable {
    // Written by one response body writer, then read once it finished: never at the same time.
    var bytes: [UInt8] = []
}

private struct CollectingWriter: ResponseBodyWriter {
    let into: Collected
    mutating func write(_ buffer: ByteBuffer) async throws { into.bytes += buffer.readableBytesView }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

extension Logger {
    fileprivate func with(metadataKey: String, value: Logger.MetadataValue) -> Logger {
        var logger = self
        logger[metadataKey: metadataKey] = value
        return logger
    }
}

/// One row: a request, and the status, error code and headers its answer must have.
struct Exchange: CustomTestStringConvertible, Sendable {
    var method: HTTPRequest.Method = .get
    var path: String
    var target: String? = nil
    var body: String = ""
    var headers: [String: String] = [:]
    var login = true
    var status: HTTPResponse.Status
    var code: String? = nil
    var answerHeaders: [String: String] = [:]
    var testDescription: String {
        "\(method) \(path) \(target ?? "") \(body.prefix(40)) → \(status.code) \(code ?? "")"
    }
}

struct RouterTableTests {
    static let name = "team/app"
    static let missing = "sha256:" + String(repeating: "a", count: 64)
    static let layer = Array("layer bytes".utf8)
    static var layerDigest: String { ContentDigester.digest(layer).rawValue }

    static let exchanges: [Exchange] = [
        // /v2: the OCI error envelope, with the spec's codes and statuses.
        Exchange(path: "/v2/", status: .ok, answerHeaders: ["Docker-Distribution-API-Version": "registry/2.0"]),
        Exchange(
            path: "/v2/", login: false, status: .unauthorized, code: "UNAUTHORIZED",
            answerHeaders: ["WWW-Authenticate": #"Basic realm="Stowage""#]),
        Exchange(path: "/v2/nope/tags/list", status: .notFound, code: "NAME_UNKNOWN"),
        Exchange(method: .post, path: "/v2/Bad_Name/blobs/uploads/", status: .badRequest, code: "NAME_INVALID"),
        Exchange(method: .post, path: "/v2/not/there/blobs/uploads/", status: .notFound, code: "NAME_UNKNOWN"),
        Exchange(path: "/v2/\(name)/blobs/sha256:abc", status: .badRequest, code: "DIGEST_INVALID"),
        Exchange(path: "/v2/\(name)/blobs/\(missing)", status: .notFound, code: "BLOB_UNKNOWN"),
        Exchange(
            path: "/v2/\(name)/blobs/\(layerDigest)", headers: ["Range": "bytes=100-"], status: .rangeNotSatisfiable,
            code: "RANGE_INVALID", answerHeaders: ["Content-Range": "bytes */11"]),
        Exchange(
            path: "/v2/\(name)/blobs/\(layerDigest)", headers: ["Range": "bytes=1-3"], status: .partialContent,
            answerHeaders: ["Content-Range": "bytes 1-3/11", "Content-Length": "3"]),
        Exchange(path: "/v2/\(name)/manifests/nope", status: .notFound, code: "MANIFEST_UNKNOWN"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1", body: "[]", status: .badRequest, code: "MANIFEST_INVALID"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1", headers: ["Content-Length": "5000000"],
            status: .contentTooLarge, code: "SIZE_INVALID"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body:
                #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"\#(missing)","size":1},"layers":[]}"#,
            status: .badRequest, code: "MANIFEST_BLOB_UNKNOWN"),
        Exchange(
            method: .patch, path: "/v2/\(name)/blobs/uploads/nope", status: .notFound, code: "BLOB_UPLOAD_UNKNOWN"),
        Exchange(
            method: .post, path: "/v2/\(name)/blobs/uploads/", status: .accepted,
            answerHeaders: ["Range": "0-0", "Content-Length": "0"]),
        Exchange(
            method: .post, path: "/v2/\(name)/blobs/uploads/?digest=\(missing)", body: "x", status: .badRequest,
            code: "DIGEST_INVALID"),
        Exchange(path: "/v2/\(name)/tags/list?n=-1", status: .badRequest, code: "PAGINATION_NUMBER_INVALID"),
        Exchange(path: "/v2/\(name)/tags/list", status: .ok),
        Exchange(method: .delete, path: "/v2/", status: .methodNotAllowed, code: "UNSUPPORTED"),
        Exchange(path: "/v2/\(name)/nothing", status: .notFound, code: "UNSUPPORTED"),
        Exchange(path: "/v2/\(name)/referrers/\(missing)", status: .ok),
        // The image-spec's manifests, the newest distribution-spec (issue 11's rules).
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body:
                #"{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"\#(layerDigest)","size":11},"layers":[]}"#,
            status: .badRequest, code: "MANIFEST_INVALID"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body: #"{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"\#(layerDigest)","size":11},"layers":[]}"#,
            status: .badRequest, code: "MANIFEST_INVALID"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body: #"{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"\#(layerDigest)","size":11},"layers":[]}"#,
            headers: ["Content-Type": "application/vnd.oci.image.manifest.v1+json"], status: .created),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body:
                #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"\#(layerDigest)","size":-1},"layers":[]}"#,
            status: .badRequest, code: "MANIFEST_INVALID"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body:
                #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"\#(layerDigest)","size":11}}"#,
            status: .badRequest, code: "MANIFEST_INVALID"),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/v1",
            body: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#, status: .badRequest,
            code: "MANIFEST_INVALID"),
        Exchange(path: "/v2/\(name)/manifests/not~a~tag", status: .notFound, code: "MANIFEST_UNKNOWN"),
        Exchange(method: .head, path: "/v2/\(name)/manifests/sha256:abc", status: .notFound),
        Exchange(
            method: .put, path: "/v2/\(name)/manifests/not~a~tag", body: "{}", status: .badRequest, code: "TAG_INVALID"),
        Exchange(path: "/v2/team%2Fapp/tags/list", status: .badRequest, code: "NAME_INVALID"),
        Exchange(method: .post, path: "/v2/team%2fapp/blobs/uploads/", status: .badRequest, code: "NAME_INVALID"),
        Exchange(path: "/v2/no/such/referrers/\(missing)", status: .ok),
        Exchange(
            method: .post, path: "/v2/\(name)/blobs/uploads/?digest-algorithm=md5", status: .badRequest,
            code: "DIGEST_INVALID"),
        Exchange(method: .post, path: "/v2/\(name)/blobs/uploads/?digest-algorithm=sha512", status: .accepted),
        Exchange(
            path: "/v2/\(name)/blobs/\(layerDigest)", headers: ["Range": "bytes=9-3"], status: .rangeNotSatisfiable,
            code: "RANGE_INVALID", answerHeaders: ["Content-Range": "bytes */11"]),
        Exchange(
            path: "/v2/\(name)/blobs/\(layerDigest)", headers: ["Range": "bytes=5-500"], status: .partialContent,
            answerHeaders: ["Content-Range": "bytes 5-10/11"]),
        Exchange(
            method: .head, path: "/v2/\(name)/blobs/\(layerDigest)", status: .ok,
            answerHeaders: ["Content-Length": "11", "Docker-Content-Digest": layerDigest]),
        Exchange(
            method: .post, path: "/", target: "PutImage",
            body:
                #"{"repositoryName":"\#(name)","imageManifest":"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"\#(layerDigest)\",\"size\":11},\"layers\":[]}"}"#,
            status: .badRequest, code: "InvalidParameterException"),
        // The ECR API: HTTP 400 with the model's exception in `__type`.
        Exchange(method: .post, path: "/", body: "{}", status: .badRequest, code: "UnknownOperationException"),
        Exchange(
            method: .post, path: "/", target: "Nope", body: "{}", status: .badRequest, code: "UnknownOperationException"
        ),
        Exchange(
            method: .post, path: "/", target: "DescribeRepositories", body: #"{"maxResults":1,}"#, status: .badRequest,
            code: "SerializationException"),
        Exchange(
            method: .post, path: "/", target: "CreateRepository", body: #"{"repositoryName":"Bad_Name"}"#,
            status: .badRequest, code: "InvalidParameterException"),
        Exchange(
            method: .post, path: "/", target: "CreateRepository", body: #"{"repositoryName":"\#(name)"}"#,
            status: .badRequest, code: "RepositoryAlreadyExistsException"),
        Exchange(
            method: .post, path: "/", target: "DescribeRepositories", body: #"{"repositoryNames":["no/such"]}"#,
            status: .badRequest, code: "RepositoryNotFoundException"),
        Exchange(
            method: .post, path: "/", target: "GetRepositoryPolicy", body: #"{"repositoryName":"\#(name)"}"#,
            status: .badRequest, code: "RepositoryPolicyNotFoundException"),
        Exchange(
            method: .post, path: "/", target: "CompleteLayerUpload",
            body: #"{"repositoryName":"\#(name)","uploadId":"nope","layerDigests":["\#(missing)"]}"#,
            status: .badRequest, code: "UploadNotFoundException"),
        Exchange(
            method: .post, path: "/", target: "DescribeRepositories", body: #"{"registryId":"123456789012"}"#,
            status: .badRequest, code: "InvalidParameterException"),
        Exchange(
            method: .post, path: "/", target: "DeleteRepositoryCreationTemplate", body: #"{"prefix":"prod"}"#,
            status: .badRequest, code: "TemplateNotFoundException"),
        Exchange(
            method: .post, path: "/", target: "DescribeRepositories", body: "{}", status: .ok,
            answerHeaders: ["Content-Type": "application/x-amz-json-1.1"]),
        // /_admin: `{"error": {"code", "message"}}`.
        Exchange(path: "/_admin/health", status: .ok),
        Exchange(method: .post, path: "/_admin/checkpoints", body: "{}", status: .badRequest, code: "InvalidRequest"),
        Exchange(
            method: .post, path: "/_admin/checkpoints", body: #"{"name":"a b"}"#, status: .badRequest,
            code: "InvalidName"),
        Exchange(
            method: .post, path: "/_admin/rewind", body: #"{"to":"nope"}"#, status: .conflict,
            code: "HistoryUnavailable"),
        Exchange(path: "/_admin/uploads/not%20an%20id", status: .badRequest, code: "InvalidUpload"),
        Exchange(path: "/_admin/uploads/unknown", status: .notFound, code: "NotFound"),
        Exchange(method: .post, path: "/_admin/clock", body: "{}", status: .badRequest, code: "InvalidRequest"),
        Exchange(path: "/_admin/state?at=tomorrow", status: .badRequest, code: "InvalidRequest"),
        Exchange(
            method: .post, path: "/_admin/repositories", body: #"{"name":"\#(name)"}"#, status: .conflict,
            code: "Conflict"),
    ]

    /// A server with repository `team/app` holding one blob.
    static func server() async throws -> InProcessServer {
        let server = try InProcessServer()
        let created = try await server.send(.post, "/_admin/repositories", body: Array(#"{"name":"\#(name)"}"#.utf8))
        #expect(created.status == .created)
        let pushed = try await server.send(
            .post, "/v2/\(name)/blobs/uploads/?digest=\(layerDigest)", headers: server.login, body: layer)
        #expect(pushed.status == .created)
        return server
    }

    @Test(arguments: exchanges)
    func eachRequestGetsItsStatusCodeAndHeaders(_ exchange: Exchange) async throws {
        let server = try await Self.server()
        var headers = exchange.login ? server.login : [:]
        for (name, value) in exchange.headers { headers[HTTPField.Name(name)!] = value }
        if let target = exchange.target { headers[.amzTarget] = "AmazonEC2ContainerRegistry_V20150921." + target }
        let answer = try await server.send(
            exchange.method, exchange.path, headers: headers, body: Array(exchange.body.utf8))
        #expect(answer.status == exchange.status, "\(String(decoding: answer.body, as: UTF8.self))")
        #expect(answer.code == exchange.code, "\(String(decoding: answer.body, as: UTF8.self))")
        for (name, value) in exchange.answerHeaders {
            #expect(answer.headers[HTTPField.Name(name)!] == value, "\(name)")
        }
    }

    /// Every operation of the ECR model is in the dispatch table: none answers "not implemented".
    @Test func everyECROperationHasAnOperation() async throws {
        #expect(ECRAction.allCases.count == 58)
        #expect(Set(ECRCall.operations.keys) == Set(ECRAction.allCases))
        let server = try await Self.server()
        for action in ECRAction.allCases {
            let answer = try await server.ecr(action.rawValue, "{}")
            #expect(answer.code != "UnsupportedOperationException" && answer.code != "UnknownOperationException")
            #expect(answer.status == .ok || answer.status == .badRequest, "\(action): \(answer.status)")
        }
    }

    /// The answers of the ECR API are the canonical encoder's: keys sorted, `nil` members left out.
    @Test func ecrAnswersAreCanonicalJSON() async throws {
        let server = try await Self.server()
        let answer = try await server.ecr("DescribeRepositories", "{}")
        let text = String(decoding: answer.body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"repositories":[{"createdAt":"#))
        #expect(!text.contains("null") && !text.contains("imageTagMutabilityExclusionFilters"))
        #expect(answer.json?.bytes == answer.body)
    }
}
