import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

/// The error codes of the OCI distribution spec, spelled as on the wire.
enum OCIErrorCode: String, Sendable, Encodable {
    case blobUnknown = "BLOB_UNKNOWN"
    case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
    case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
    case digestInvalid = "DIGEST_INVALID"
    case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
    case manifestInvalid = "MANIFEST_INVALID"
    case manifestUnknown = "MANIFEST_UNKNOWN"
    case nameInvalid = "NAME_INVALID"
    case nameUnknown = "NAME_UNKNOWN"
    case sizeInvalid = "SIZE_INVALID"
    case unauthorized = "UNAUTHORIZED"
    case denied = "DENIED"
    case unsupported = "UNSUPPORTED"
    case tooManyRequests = "TOOMANYREQUESTS"
    case rangeInvalid = "RANGE_INVALID"
    case tagInvalid = "TAG_INVALID"
    case paginationNumberInvalid = "PAGINATION_NUMBER_INVALID"
    case unknown = "UNKNOWN"
    case unavailable = "UNAVAILABLE"
}

/// An error on `/v2`, in the OCI envelope `{"errors":[{"code","message","detail"}]}`.
struct OCIError: HTTPResponseError {
    struct Entry: Encodable, Sendable {
        var code: OCIErrorCode
        var message: String
        var detail: [String: String]?
    }

    private struct Envelope: Encodable { var errors: [Entry] }

    var status: HTTPResponse.Status
    var errors: [Entry]
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: OCIErrorCode, _ message: String, detail: [String: String]? = nil) {
        self.status = status
        errors = [Entry(code: code, message: message, detail: detail)]
    }

    /// The one place where the registry's refusals become OCI errors.
    init(_ error: RegistryError) {
        let message = error.description
        switch error {
        case .repositoryNotFound(let name):
            self.init(.notFound, .nameUnknown, message, detail: ["name": name.rawValue])
        case .repositoryAlreadyExists, .repositoryNotEmpty:
            self.init(.conflict, .denied, message)
        case .uploadNotFound, .uploadAlreadyExists:
            self.init(.notFound, .blobUploadUnknown, message)
        case .chunkOutOfOrder, .invalidChunkLength:
            self.init(.rangeNotSatisfiable, .blobUploadInvalid, message)
        case .digestMismatch(_, let claimed, let computed):
            self.init(
                .badRequest, .digestInvalid, message,
                detail: ["claimed": claimed.rawValue, "computed": computed.rawValue])
        case .sizeMismatch:
            self.init(.badRequest, .sizeInvalid, message)
        case .blobNotFound(_, let digest):
            self.init(.notFound, .blobUnknown, message, detail: ["digest": digest.rawValue])
        case .manifestReferencesMissing(_, let blobs, let manifests):
            self.init(.badRequest, .manifestBlobUnknown, message)
            errors =
                blobs.map {
                    Entry(
                        code: .manifestBlobUnknown, message: "blob unknown to registry", detail: ["digest": $0.rawValue]
                    )
                }
                // The spec's code for "a manifest or blob unknown to registry" that a manifest references.
                + manifests.map {
                    Entry(
                        code: .manifestBlobUnknown, message: "manifest unknown to registry",
                        detail: ["digest": $0.rawValue])
                }
        case .manifestNotFound:
            self.init(.notFound, .manifestUnknown, message)
        case .tagNotFound:
            self.init(.notFound, .manifestUnknown, message)
        case .tagImmutable:
            self.init(.badRequest, .tagInvalid, message)
        case .emptyUpload, .partTooSmall:
            self.init(.badRequest, .blobUploadInvalid, message)
        case .imageAlreadyExists, .layerAlreadyExists, .imageReferencedByIndex:
            self.init(.conflict, .denied, message)
        case .tooManyResourceTags, .limitExceeded, .settingNotFound, .settingAlreadyExists, .templateNotFound,
            .templateAlreadyExists, .pullThroughRuleNotFound, .pullThroughRuleAlreadyExists:
            self.init(.badRequest, .denied, message)
        case .invalidRequest:
            self.init(.badRequest, .unsupported, message)
        case .pointUnavailable:
            self.init(.internalServerError, .unknown, message)
        }
    }

    /// The error with the path of upload `id`'s story on this server in its detail.
    func naming(_ id: UploadID) -> OCIError {
        var named = self
        for i in named.errors.indices {
            var detail = named.errors[i].detail ?? [:]
            detail["story"] = "/_admin/ui/#/upload/\(id)"
            detail["history"] = "/_admin/uploads/\(id)"
            named.errors[i].detail = detail
        }
        return named
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = headers
        headers[.dockerDistributionAPIVersion] = "registry/2.0"
        if request.method == .head {
            return Response(status: status, headers: headers)
        }
        return try JSONResponse.make(Envelope(errors: errors), status: status, headers: headers)
    }
}
