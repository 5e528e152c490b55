import Testing

@testable import StowageHTTP

struct OCIRouteTests {
    static let d = "sha256:" + String(repeating: "a", count: 64)

    @Test(arguments: [
        ("/v2", OCIRoute.base), ("/v2/", .base), ("/v2/_catalog", .catalog),
        ("/v2/app/blobs/uploads/", .uploads("app")), ("/v2/app/blobs/uploads", .uploads("app")),
        ("/v2/a/b/blobs/uploads/u-1", .upload("a/b", id: "u-1")),
        ("/v2/app/blobs/\(d)", .blob("app", digest: d)),
        ("/v2/app/blobs/sha256%3A\(String(repeating: "a", count: 64))", .blob("app", digest: d)),
        ("/v2/app/manifests/latest", .manifest("app", reference: "latest")),
        ("/v2/app/tags/list", .tags("app")),
        ("/v2/app/referrers/\(d)", .referrers("app", digest: d)),
        // Names that contain the route words as components.
        ("/v2/a/blobs/b/blobs/\(d)", .blob("a/blobs/b", digest: d)),
        ("/v2/a/manifests/b/manifests/v1", .manifest("a/manifests/b", reference: "v1")),
        ("/v2/x/manifests/tags/tags/list", .tags("x/manifests/tags")),
        ("/v2/a/blobs/blobs/uploads/", .uploads("a/blobs")),
        ("/v2/blobs/uploads/blobs/uploads/id9", .upload("blobs/uploads", id: "id9")),
        ("/v2/tags/list/tags/list", .tags("tags/list")),
        ("/v2/uploads/blobs/uploads/", .uploads("uploads")),
    ])
    func pathsAreClassifiedFromTheEnd(path: String, route: OCIRoute) {
        #expect(OCIRoute(path: path) == route)
    }

    @Test(arguments: [
        "/v2/app", "/v2/blobs/\(d)", "/v2/app/tags", "/v2/app/manifests/", "/v3/app/tags/list", "/v2/manifests/x",
    ])
    func pathsThatAddressNothingAreRefused(path: String) {
        #expect(OCIRoute(path: path) == nil)
    }
}

extension OCIRouteTests {
    /// A malformed escape is kept as written; the handler then refuses the component (DIGEST_INVALID here).
    @Test func malformedEscapesAreKeptForTheHandlerToRefuse() {
        #expect(OCIRoute(path: "/v2/app/blobs/%zz") == .blob("app", digest: "%zz"))
    }
}
