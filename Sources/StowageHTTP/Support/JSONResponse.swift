import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

/// Responses with JSON bodies, encoded deterministically.
enum JSONResponse {
    static func make<T: Encodable>(
        _ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:],
        contentType: String = "application/json"
    ) throws -> Response {
        make(bytes: try StateCodec.encode(value), status: status, headers: headers, contentType: contentType)
    }

    /// A response of JSON already written.
    static func make(
        bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:],
        contentType: String = "application/json"
    ) -> Response {
        var headers = headers
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Appends a JSON array of strings.
    static func appendStrings(_ strings: some Sequence<String>, to output: inout [UInt8]) {
        JSONText.appendArray(strings, to: &output) { string, output in JSONText.appendString(string, to: &output) }
    }

    /// Decodes a small JSON request body (at most `limit` bytes).
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 1 << 20) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }
}
