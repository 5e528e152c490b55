import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client over SwiftNIO: one request per connection, the whole answer in memory.
///
/// The CLI (the admin API, `stowage health` in the image's HEALTHCHECK) and the pull-through
/// cache are its callers. It speaks plain `http://` only: Stowage links no TLS library and no
/// full Foundation (that is what keeps the binary small enough for a `FROM scratch` image), so an
/// `https://` URL is refused with ``Failure/tlsUnsupported``.
public enum PlainHTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]

        /// The first value of the header `name` (any case).
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    public enum Failure: Error, CustomStringConvertible, Sendable {
        case invalidURL(String)
        case tlsUnsupported(String)
        case unreachable(String, String)
        case timedOut(String)
        case closedEarly(String)

        public var description: String {
            switch self {
            case .invalidURL(let url): "'\(url)' is not an http:// URL"
            case .tlsUnsupported(let url):
                "\(url) is https: this Stowage speaks plain http to other servers (it links no TLS library)"
            case .unreachable(let host, let reason): "\(host) is unreachable: \(reason)"
            case .timedOut(let host): "\(host) did not answer in time"
            case .closedEarly(let host): "\(host) closed the connection before answering"
            }
        }
    }

    /// The parts of an `http://[user:password@]host[:port]/path?query` URL.
    public struct Target: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// The path and query, starting with `/`.
        public var path: String
        /// The userinfo's parts as the URL writes them (percent-encoded), decoded once when sent.
        public var user: String?
        public var password: String?

        public init(_ text: String) throws(Failure) {
            if text.lowercased().hasPrefix("https://") { throw .tlsUnsupported(text) }
            guard let components = URLComponents(string: text), components.scheme?.lowercased() == "http",
                let host = components.host, !host.isEmpty
            else { throw .invalidURL(text) }
            self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
            port = components.port ?? 80
            let rawPath = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            path = rawPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
            user = components.percentEncodedUser
            password = components.percentEncodedPassword
        }

        /// `host:port` as a `Host` header says it.
        var authority: String {
            let name = host.contains(":") ? "[\(host)]" : host
            return port == 80 ? name : "\(name):\(port)"
        }
    }

    /// Sends one request and waits for the whole answer, at most `timeout`.
    public static func send(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(600)
    ) async throws -> Response {
        let target = try Target(url)
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target.path)
        head.headers.add(name: "Host", value: target.authority)
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "User-Agent", value: "stowage")
        if let user = target.user {
            let credentials =
                "\(user.removingPercentEncoding ?? user):\(target.password?.removingPercentEncoding ?? "")"
            head.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        }
        for (name, value) in headers { head.headers.replaceOrAdd(name: name, value: value) }
        if let body { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count)) }

        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = loop.makePromise(of: Response.self)
        let deadline = loop.scheduleTask(in: TimeAmount(timeout)) { answer.fail(Failure.timedOut(target.authority)) }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            ResponseCollector(answer: answer, host: target.authority))
                    }
                }
                .connect(host: target.host, port: target.port).get()
        } catch {
            deadline.cancel()
            answer.fail(error)
            throw Failure.unreachable(target.authority, String(describing: error))
        }
        let bodyBuffer = body.map { ByteBuffer(bytes: $0) }
        let requestHead = head
        channel.eventLoop.execute {
            channel.write(HTTPClientRequestPart.head(requestHead), promise: nil)
            if let bodyBuffer { channel.write(HTTPClientRequestPart.body(.byteBuffer(bodyBuffer)), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        return try await answer.futureResult.get()
    }
}

/// Collects one response and fulfils the promise; a connection that ends first fails it.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let answer: EventLoopPromise<PlainHTTPClient.Response>
    private let host: String
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    init(answer: EventLoopPromise<PlainHTTPClient.Response>, host: String) {
        self.answer = answer
        self.host = host
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // 100 Continue and other interim answers are not the answer.
            if head.status.code >= 200 { self.head = head }
        case .body(var buffer):
            if head != nil { body += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        case .end:
            guard let head else { return }
            answer.succeed(
                .init(status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) }, body: body))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.fail(PlainHTTPClient.Failure.closedEarly(host))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer.fail(PlainHTTPClient.Failure.unreachable(host, String(describing: error)))
        context.close(promise: nil)
    }
}
