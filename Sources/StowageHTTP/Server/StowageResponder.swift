public import Hummingbird
public import HummingbirdCore

/// The responder of a listener: `/v2` goes straight to the OCI controller, which classifies the
/// path itself (``OCIRoute``), and everything else (the ECR API, `/_admin`, `/`) to the router.
///
/// Going through the router's trie for `/v2` resolved a `/v2/**` route component by component
/// before the controller parsed the same path again: a fifteenth of a HEAD request's CPU.
public struct StowageResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    let oci: OCIController?
    let router: RouterResponder<BasicRequestContext>
    private let accessLog = AccessLogMiddleware<BasicRequestContext>()

    init(oci: OCIController?, router: RouterResponder<BasicRequestContext>) {
        self.oci = oci
        self.router = router
    }

    public func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        let path = request.uri.path
        guard let oci, path == "/v2" || path.utf8.starts(with: "/v2/".utf8) else {
            return try await router.respond(to: request, context: context)
        }
        do {
            // A `/v2` path no OCI endpoint has (`nil`) is still the OCI controller's to refuse, in OCI's shape.
            let route = OCIRoute(path: path)
            return try await accessLog.handle(request, context: context) { request, context in
                try await oci.handle(request, context, route: route)
            }
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        }
    }

}
