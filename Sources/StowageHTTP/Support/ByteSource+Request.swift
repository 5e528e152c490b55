import Hummingbird
import NIOCore
import StowageStorage

extension ByteSource {
    /// A request's body, streamed as it arrives; its `Content-Length`, when sane, as the declared length.
    init(_ request: Request) {
        let body = request.body
        self.init(declaredLength: StowageHTTP.declaredLength(request)) { consume in
            for try await buffer in body { try buffer.withUnsafeReadableBytes(consume) }
        }
    }
}

/// The request's `Content-Length`, when it declares a sane one (a hint for reserving space).
func declaredLength(_ request: Request) -> Int64? {
    request.headers[.contentLength].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
}
