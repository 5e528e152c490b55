import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

/// The OCI Distribution v2 API on `/v2`.
struct OCIController: Sendable {
    let store: RegistryStore
    let configuration: ServerConfiguration

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v2") { request, context in try base(request) }
        router.head("/v2") { request, context in try base(request) }
        router.get("/v2/_catalog") { request, context in try catalog(request) }
    }

    private func headers() -> HTTPFields {
        [.dockerDistributionAPIVersion: "registry/2.0"]
    }

    /// `GET /v2/`: the API version check.
    func base(_ request: Request) throws -> Response {
        try JSONResponse.make([String: String](), headers: headers())
    }

    /// `GET /v2/_catalog?n=&last=`: repository names in lexical order.
    func catalog(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        let limit = try pageSize(query["n"].map(String.init))
        let last = query["last"].flatMap { RepositoryName(String($0)) }
        let page = store.state[.default].repositoryNames(after: last, limit: limit)
        var headers = headers()
        if page.hasMore, let limit, let tail = page.items.last {
            headers[.link] = "</v2/_catalog?n=\(limit)&last=\(tail)>; rel=\"next\""
        }
        struct Body: Encodable { var repositories: [String] }
        return try JSONResponse.make(Body(repositories: page.items.map(\.rawValue)), headers: headers)
    }

    private func pageSize(_ text: String?) throws -> Int? {
        guard let text else { return nil }
        guard let n = Int(text), n >= 0 else {
            throw OCIError(.badRequest, .paginationNumberInvalid, "n must be a non-negative integer, not '\(text)'")
        }
        return n
    }
}
