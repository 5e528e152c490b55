import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension OCIController {
    /// `GET`/`HEAD /v2/<name>/blobs/<digest>`, with single `Range` requests; streamed from the store.
    func getBlob(_ request: Request, scope: Scope, name rawName: String, digest rawDigest: String) throws -> Response {
        let name = try repositoryName(rawName)
        let digest = try digest(rawDigest)
        guard let size = try repository(name, in: scope).blobSize(digest) else {
            throw OCIError(
                .notFound, .blobUnknown, "blob \(digest) is not in repository '\(name)'",
                detail: ["digest": digest.rawValue])
        }
        var headers: HTTPFields = [
            .contentType: "application/octet-stream", .dockerContentDigest: digest.rawValue, .acceptRanges: "bytes",
            .eTag: "\"\(digest)\"",
        ]
        var status = HTTPResponse.Status.ok
        var range = Int64(0)..<size
        switch ByteRange(request.headers[.range], size: size) {
        case .none:
            break
        case .satisfiable(let requested):
            range = requested
            status = .partialContent
            headers[.contentRange] = "bytes \(requested.lowerBound)-\(requested.upperBound - 1)/\(size)"
        case .unsatisfiable:
            var failure = OCIError(
                .rangeNotSatisfiable, .rangeInvalid,
                "the range \(request.headers[.range] ?? "") is not within the blob's \(size) bytes (or ends before it starts)"
            )
            failure.headers[.contentRange] = "bytes */\(size)"
            throw failure
        }
        headers[.contentLength] = String(range.count)
        if request.method == .head { return Response(status: status, headers: headers) }
        let reader: any BlobReader
        do { reader = try store.content.openBlob(digest) } catch {
            throw OCIError(
                .notFound, .blobUnknown, "blob \(digest) is linked but its content is missing",
                detail: ["digest": digest.rawValue])
        }
        let span = range
        if span.count >= Self.sendfileThreshold, let sendfile = SendfileHandler.current,
            let descriptor = reader.fileDescriptor
        {
            // `reader` stays open until the marker is made; the region holds a duplicate.
            let body = ResponseBody(contentLength: span.count) { writer in
                let marker = try sendfile.marker(descriptor: descriptor, range: span)
                reader.close()
                do { try await writer.write(marker) } catch {
                    sendfile.cancel(marker)
                    throw error
                }
                try await writer.finish(nil)
            }
            return Response(status: status, headers: headers, body: body)
        }
        let body = ResponseBody(contentLength: span.count) { writer in
            var offset = span.lowerBound
            let chunk = 1 << 20
            while offset < span.upperBound {
                let want = Int(min(Int64(chunk), span.upperBound - offset))
                var buffer = ByteBufferAllocator().buffer(capacity: want)
                let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { target in
                    try reader.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: target[0..<want]))
                }
                guard n > 0 else { break }
                try await writer.write(buffer)
                offset += Int64(n)
            }
            reader.close()
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// Bodies from this size on go out with `sendfile(2)`; smaller ones are cheaper to copy than
    /// the duplicate descriptor and the region a sendfile costs.
    static let sendfileThreshold: Int64 = 64 << 10

    /// `DELETE /v2/<name>/blobs/<digest>`: removes this repository's link to the blob.
    func deleteBlob(scope: Scope, name rawName: String, digest rawDigest: String) async throws -> Response {
        let name = try repositoryName(rawName)
        let digest = try digest(rawDigest)
        try await store.submit(.deleteBlobLink(repository: name, digest: digest), scope: scope)
        return Self.empty(.accepted, [.dockerContentDigest: digest.rawValue])
    }
}

/// A parsed `Range: bytes=...` request header (one range only).
enum ByteRange: Equatable {
    /// No header, or one this server ignores (several ranges, other units, bad syntax): send it all.
    case none
    case satisfiable(Range<Int64>)
    case unsatisfiable

    init(_ header: String?, size: Int64) {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else {
            self = .none
            return
        }
        let spec = header.dropFirst(6).trimmingSpaces
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            self = .none
            return
        }
        if parts[0].isEmpty {
            // -n: the last n bytes.
            guard let n = Int64(parts[1]) else {
                self = .none
                return
            }
            self = n <= 0 || size == 0 ? .unsatisfiable : .satisfiable(max(0, size - n)..<size)
            return
        }
        guard let start = Int64(parts[0]), start >= 0 else {
            self = .none
            return
        }
        var end = size - 1
        if !parts[1].isEmpty {
            guard let last = Int64(parts[1]) else {
                self = .none
                return
            }
            // An end before the start is no range of this blob (the spec: 416); one past its end is cut to it.
            guard last >= start else {
                self = .unsatisfiable
                return
            }
            end = min(last, size - 1)
        }
        self = start >= size ? .unsatisfiable : .satisfiable(start..<(end + 1))
    }
}
