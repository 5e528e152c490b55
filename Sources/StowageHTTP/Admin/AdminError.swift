import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import StowageCore

/// An error on `/_admin`: `{"error": {"code", "message"}}` with a fitting status.
struct AdminError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The one place where the registry's refusals become admin errors.
    init(_ error: RegistryError) {
        switch error {
        case .repositoryNotFound, .uploadNotFound, .blobNotFound, .manifestNotFound, .tagNotFound:
            self.init(.notFound, "NotFound", error.description)
        case .repositoryAlreadyExists, .uploadAlreadyExists, .repositoryNotEmpty, .tagImmutable:
            self.init(.conflict, "Conflict", error.description)
        default:
            self.init(.badRequest, "Refused", error.description)
        }
    }

    private struct Body: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
        }
        var error: Inner
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        return try JSONResponse.make(Body(error: .init(code: code, message: message)), status: status)
    }
}
