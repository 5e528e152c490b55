import Foundation
import HTTPTypes
import StowageCore
import StowageStorage
import Testing

@testable import StowageHTTP

/// Rules of the newest distribution-spec and of the image-spec that take more than one request.
struct SpecRulesTests {
    static let name = RouterTableTests.name
    static let layer = RouterTableTests.layer
    static var layerDigest: String { RouterTableTests.layerDigest }

    static func manifest(_ seed: Int, mediaType: Bool = true) -> [UInt8] {
        let type = mediaType ? #""mediaType":"application/vnd.oci.image.manifest.v1+json","# : ""
        return Array(
            #"{"schemaVersion":2,\#(type)"config":{"mediaType":"a/b","digest":"\#(layerDigest)","size":11},"layers":[],"annotations":{"n":"\#(seed)"}}"#
                .utf8)
    }

    /// `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b…`: every tag in one command, one `OCI-Tag` each.
    @Test func aManifestPushedByDigestTakesEveryTagOfItsQueryInOneCommand() async throws {
        let server = try await RouterTableTests.server()
        let bytes = Self.manifest(1)
        let digest = ContentDigester.digest(bytes)
        let tags = (1...12).map { "t\($0)" }
        let query = tags.map { "tag=\($0)" }.joined(separator: "&")
        let before = server.store.sequence
        let put = try await server.send(
            .put, "/v2/\(Self.name)/manifests/\(digest)?\(query)", headers: server.login, body: bytes)
        #expect(put.status == .created)
        #expect(put.headers[values: .ociTag] == tags)
        let puts = try await server.store.records(after: before).filter { $0.envelope.command.kind == "putManifest" }
        #expect(puts.count == 1)
        let listed = try await server.send(.get, "/v2/\(Self.name)/tags/list", headers: server.login)
        #expect(Set(listed.json?["tags"]?.stringArray ?? []) == Set(tags))
        let bad = try await server.send(
            .put, "/v2/\(Self.name)/manifests/\(digest)?tag=ok&tag=no~good", headers: server.login, body: bytes)
        #expect(bad.status == .badRequest && bad.code == "TAG_INVALID")
    }

    /// sha512 throughout: an upload declared sha512, a blob and a manifest kept under their sha512
    /// digests, a tag that answers the sha512 digest it was pushed with.
    @Test func sha512DigestsAreKeptFromUploadToTag() async throws {
        let server = try await RouterTableTests.server()
        let content = Array("sha512 content".utf8)
        let digest = ContentDigester.digest(content, .sha512)
        let post = try await server.send(
            .post, "/v2/\(Self.name)/blobs/uploads/?digest-algorithm=sha512", headers: server.login)
        #expect(post.status == .accepted)
        let location = try #require(post.headers[.location])
        let patch = try await server.send(.patch, location, headers: server.login, body: content)
        #expect(patch.status == .accepted)
        let put = try await server.send(.put, location + "?digest=\(digest)", headers: server.login)
        #expect(put.status == .created && put.headers[.dockerContentDigest] == digest.rawValue)
        let head = try await server.send(.head, "/v2/\(Self.name)/blobs/\(digest)", headers: server.login)
        #expect(head.status == .ok && head.headers[.dockerContentDigest] == digest.rawValue)
        let bytes = Self.manifest(2)
        let manifestDigest = ContentDigester.digest(bytes, .sha512)
        let pushed = try await server.send(
            .put, "/v2/\(Self.name)/manifests/\(manifestDigest)?tag=big", headers: server.login, body: bytes)
        #expect(pushed.status == .created)
        let byTag = try await server.send(.head, "/v2/\(Self.name)/manifests/big", headers: server.login)
        #expect(byTag.headers[.dockerContentDigest] == manifestDigest.rawValue)
        #expect(byTag.headers[.contentLength] == String(bytes.count))
    }

    /// The final `PUT` with a last chunk that does not start where the upload stands: 416 with the
    /// upload's `Range`, nothing appended (PR #593 of the distribution-spec).
    @Test func aLastChunkAtTheWrongOffsetIsRefusedWithTheCurrentRange() async throws {
        let server = try await RouterTableTests.server()
        let post = try await server.send(.post, "/v2/\(Self.name)/blobs/uploads/", headers: server.login)
        let location = try #require(post.headers[.location])
        var headers = server.login
        headers[.contentRange] = "0-4"
        let patch = try await server.send(.patch, location, headers: headers, body: Array("hello".utf8))
        #expect(patch.status == .accepted && patch.headers[.range] == "0-4")
        headers[.contentRange] = "9-13"
        let whole = ContentDigester.digest(Array("helloworld".utf8))
        let put = try await server.send(
            .put, location + "?digest=\(whole)", headers: headers, body: Array("world".utf8))
        #expect(put.status == .rangeNotSatisfiable && put.headers[.range] == "0-4")
        let status = try await server.send(.get, location, headers: server.login)
        #expect(status.status == .noContent && status.headers[.range] == "0-4")
        headers[.contentRange] = "5-9"
        let right = try await server.send(
            .put, location + "?digest=\(whole)", headers: headers, body: Array("world".utf8))
        #expect(right.status == .created)
    }

    @Test func uploadSessionsAdvertiseTheChunkMinimumWhenSet() async throws {
        let plain = try await RouterTableTests.server()
        let none = try await plain.send(.post, "/v2/\(Self.name)/blobs/uploads/", headers: plain.login)
        #expect(none.headers[.ociChunkMinLength] == nil)
        let server = try InProcessServer { $0.chunkMinLength = 5 << 20 }
        _ = try await server.send(.post, "/_admin/repositories", body: Array(#"{"name":"\#(Self.name)"}"#.utf8))
        let post = try await server.send(.post, "/v2/\(Self.name)/blobs/uploads/", headers: server.login)
        #expect(post.status == .accepted && post.headers[.ociChunkMinLength] == "5242880")
    }

    /// `--sparse-manifests`: an index may name child manifests the repository lacks.
    @Test func sparseManifestsAcceptIndexesWithMissingChildren() async throws {
        let index = Array(
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(RouterTableTests.missing)","size":9}]}"#
                .utf8)
        let strict = try await RouterTableTests.server()
        let refused = try await strict.send(
            .put, "/v2/\(Self.name)/manifests/multi", headers: strict.login, body: index)
        #expect(refused.status == .badRequest && refused.code == "MANIFEST_BLOB_UNKNOWN")
        let server = try InProcessServer { $0.sparseManifests = true }
        _ = try await server.send(.post, "/_admin/repositories", body: Array(#"{"name":"\#(Self.name)"}"#.utf8))
        let accepted = try await server.send(
            .put, "/v2/\(Self.name)/manifests/multi", headers: server.login, body: index)
        #expect(accepted.status == .created)
    }

    /// An upload nobody touches for the timeout ends, logged; its id is unknown from then on.
    @Test func anUntouchedUploadExpiresAndItsTimelineSaysSo() async throws {
        let server = try await RouterTableTests.server()
        let post = try await server.send(.post, "/v2/\(Self.name)/blobs/uploads/", headers: server.login)
        let location = try #require(post.headers[.location])
        let id = String(location.split(separator: "/").last!)
        #expect(try await server.store.expireUploads(after: .seconds(3600)) == 0)
        try await server.store.moveClock(toOffset: server.store.clock.offset + 3_600_000)
        #expect(try await server.store.expireUploads(after: .seconds(3600)) == 1)
        let patch = try await server.send(.patch, location, headers: server.login, body: Array("late".utf8))
        #expect(patch.status == .notFound && patch.code == "BLOB_UPLOAD_UNKNOWN")
        let timeline = try await server.send(.get, "/_admin/uploads/\(id)")
        #expect(timeline.json?["status"]?.stringValue?.hasPrefix("expired") == true)
        let events = timeline.json?["events"]?.arrayValue?.compactMap { $0["event"]?.stringValue } ?? []
        #expect(events == ["started", "expired", "request"], "the late PATCH is history too")
        #expect(timeline.json?["ended"]?["how"]?.stringValue?.contains("expired") == true)
    }
}
