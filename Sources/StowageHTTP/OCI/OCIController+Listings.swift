import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension OCIController {
    /// `GET /v2/<name>/tags/list?n=&last=`: tags in lexical order, with a `Link` to the next page.
    func listTags(_ request: Request, scope: Scope, name rawName: String) throws -> Response {
        let name = try repositoryName(rawName)
        let query = request.uri.queryParameters
        let limit = try pageSize(query["n"].map(String.init))
        let last = query["last"].flatMap { Tag(String($0)) }
        let page = StowageCore.page(
            tagListings.sortedTags(of: try repository(name, in: scope), in: scope), after: last, limit: limit)
        var headers: HTTPFields = [:]
        if page.hasMore, let limit, let tail = page.items.last {
            headers[.link] = "</v2/\(name)/tags/list?n=\(limit)&last=\(tail)>; rel=\"next\""
        }
        // Written directly: Codable spends more on a long [String] than everything else here.
        var body = Array(#"{"name":"#.utf8)
        JSONText.appendString(name.rawValue, to: &body)
        body.append(contentsOf: #","tags":"#.utf8)
        JSONResponse.appendStrings(page.items.lazy.map(\.rawValue), to: &body)
        body.append(UInt8(ascii: "}"))
        return JSONResponse.make(bytes: body, headers: headers)
    }

    /// `GET /v2/_catalog?n=&last=`: repository names of the caller's account-region.
    func catalog(_ request: Request, scope: Scope) throws -> Response {
        let query = request.uri.queryParameters
        let limit = try pageSize(query["n"].map(String.init))
        let last = query["last"].flatMap { RepositoryName(String($0)) }
        let page = store.state[scope].repositoryNames(after: last, limit: limit)
        var headers: HTTPFields = [:]
        if page.hasMore, let limit, let tail = page.items.last {
            headers[.link] = "</v2/_catalog?n=\(limit)&last=\(tail)>; rel=\"next\""
        }
        var body = Array(#"{"repositories":"#.utf8)
        JSONResponse.appendStrings(page.items.lazy.map(\.rawValue), to: &body)
        body.append(UInt8(ascii: "}"))
        return JSONResponse.make(bytes: body, headers: headers)
    }

    /// `GET /v2/<name>/referrers/<digest>?artifactType=`: an OCI index of the manifests whose
    /// `subject` is the digest (empty when there are none, even if the digest is unknown).
    func referrers(_ request: Request, scope: Scope, name rawName: String, digest rawDigest: String) throws -> Response
    {
        let name = try repositoryName(rawName)
        let subject = try digest(rawDigest)
        let artifactType = request.uri.queryParameters["artifactType"].map(String.init)
        // Never 404 (the spec: a client reads 404 as "no referrers API"): a repository with
        // nothing in it yet, or none at all, has no referrers.
        let images = store.state[scope].repositories[name]?.referrers(of: subject, artifactType: artifactType) ?? []
        struct Entry: Encodable {
            var mediaType: String
            var digest: String
            var size: Int64
            var artifactType: String?
            var annotations: [String: String]?
        }
        struct Index: Encodable {
            var schemaVersion = 2
            var mediaType = ManifestMediaType.ociIndex
            var manifests: [Entry]
        }
        let entries = images.map { image in
            Entry(
                mediaType: image.manifest.mediaType, digest: image.digest.rawValue, size: image.manifest.size,
                artifactType: image.artifactType,
                annotations: image.manifest.references.annotations.isEmpty ? nil : image.manifest.references.annotations
            )
        }
        var headers: HTTPFields = [:]
        if artifactType != nil { headers[.ociFiltersApplied] = "artifactType" }
        return try JSONResponse.make(
            Index(manifests: entries), headers: headers, contentType: ManifestMediaType.ociIndex)
    }

    func pageSize(_ text: String?) throws(OCIError) -> Int? {
        guard let text else { return nil }
        guard let n = Int(text), n >= 0 else {
            throw OCIError(.badRequest, .paginationNumberInvalid, "n must be a non-negative integer, not '\(text)'")
        }
        // What ECR answers (its listings are its APIs' pages of at most 1000); `--profile spec` honours any n.
        if configuration.profile == .ecr && n > 1000 {
            throw OCIError(
                .badRequest, .unsupported,
                "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value less than or equal to 1000'"
            )
        }
        return n
    }
}
