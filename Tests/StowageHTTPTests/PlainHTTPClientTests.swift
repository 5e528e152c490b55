import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import StowageHTTP

/// The CLI's and the pull-through cache's HTTP client, against a raw TCP listener on loopback that
/// answers exactly the bytes a test gives it and records what it was sent.
struct PlainHTTPClientTests {
    @Test func urlsAreReadIntoHostPortPathAndCredentials() throws {
        let full = try PlainHTTPClient.Target("http://us%40r:p%3Ass@127.0.0.1:5123/v2/a%2Fb/tags/list?n=2&last=x")
        #expect(full.host == "127.0.0.1" && full.port == 5123)
        #expect(full.path == "/v2/a%2Fb/tags/list?n=2&last=x")
        #expect(full.user == "us%40r" && full.password == "p%3Ass")
        #expect(full.authority == "127.0.0.1:5123")
        let bare = try PlainHTTPClient.Target("http://registry.local")
        #expect(bare.port == 80 && bare.path == "/" && bare.authority == "registry.local")
        let six = try PlainHTTPClient.Target("http://[::1]:5000/v2/")
        #expect(six.host == "::1" && six.authority == "[::1]:5000")
        for refused in ["ftp://x/", "127.0.0.1:5000", "http://", "not a url"] {
            #expect(throws: PlainHTTPClient.Failure.self) { try PlainHTTPClient.Target(refused) }
        }
        #expect {
            try PlainHTTPClient.Target("https://public.ecr.aws/")
        } throws: { error in
            guard case .tlsUnsupported = error as? PlainHTTPClient.Failure else { return false }
            return "\(error)".contains("TLS")
        }
    }

    @Test func aRequestCarriesItsHeadersBodyAndUserinfoAndReadsAChunkedAnswer() async throws {
        let listener = try await Listener(
            answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n")
        defer { listener.close() }
        let response = try await PlainHTTPClient.send(
            "POST", "http://AWS:s%3Acret@127.0.0.1:\(listener.port)/_admin/token?account=1",
            headers: [("Accept", "application/json")], body: Array("hello".utf8))
        #expect(response.status == 201)
        #expect(response.header("content-type") == "application/json")
        #expect(response.body == Array(#"{"a":1}"#.utf8))
        let sent = try await listener.received()
        #expect(sent.hasPrefix("POST /_admin/token?account=1 HTTP/1.1\r\n"))
        #expect(sent.contains("Host: 127.0.0.1:\(listener.port)\r\n"))
        #expect(sent.contains("Authorization: Basic QVdTOnM6Y3JldA==\r\n"))  // AWS:s:cret
        #expect(sent.contains("Content-Length: 5\r\n") && sent.hasSuffix("\r\n\r\nhello"))
    }

    @Test func aServerThatHangsUpOrNeverAnswersOrIsNotThereIsAnErrorNotAHang() async throws {
        let hangsUp = try await Listener(answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close: true)
        defer { hangsUp.close() }
        await #expect(throws: PlainHTTPClient.Failure.self) {
            try await PlainHTTPClient.send("GET", "http://127.0.0.1:\(hangsUp.port)/")
        }
        let silent = try await Listener(answer: nil)
        defer { silent.close() }
        await #expect {
            try await PlainHTTPClient.send("GET", "http://127.0.0.1:\(silent.port)/", timeout: .milliseconds(200))
        } throws: { error in
            guard case .timedOut = error as? PlainHTTPClient.Failure else { return false }
            return true
        }
        let port = silent.port
        try await silent.closed()
        await #expect {
            try await PlainHTTPClient.send("GET", "http://127.0.0.1:\(port)/", timeout: .seconds(20))
        } throws: { error in
            guard case .unreachable = error as? PlainHTTPClient.Failure else { return false }
            return true
        }
    }
}

/// A TCP listener that writes `answer` once a whole request has arrived (or never, for `nil`).
private final class Listener: Sendable {
    private let channel: any Channel
    private let request: NIOLockedValueBox<[UInt8]>
    let port: Int

    init(answer: String?, close: Bool = false) async throws {
        let request = NIOLockedValueBox<[UInt8]>([])
        self.request = request
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(
                        Answerer(answer: answer, close: close, request: request))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    /// What the client sent, once it has.
    func received() async throws -> String {
        for _ in 0..<200 {
            let bytes = request.withLockedValue { $0 }
            if !bytes.isEmpty { return String(decoding: bytes, as: UTF8.self) }
            try await Task.sleep(for: .milliseconds(10))
        }
        return ""
    }

    func close() { channel.close(promise: nil) }

    /// Closes the listening socket and waits until it is closed (so a connect is refused).
    func closed() async throws { try await channel.close() }
}

private final class Answerer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let answer: String?
    let close: Bool
    let request: NIOLockedValueBox<[UInt8]>
    var bytes: [UInt8] = []
    var answered = false

    init(answer: String?, close: Bool, request: NIOLockedValueBox<[UInt8]>) {
        self.answer = answer
        self.close = close
        self.request = request
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        let text = String(decoding: bytes, as: UTF8.self)
        guard !answered, let end = text.firstRange(of: "\r\n\r\n") else { return }
        let length =
            text[..<end.lowerBound].split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingSpaces) } ?? 0
        guard text.utf8.count - text[..<end.upperBound].utf8.count >= length else { return }
        answered = true
        request.withLockedValue { $0 = bytes }
        guard let answer else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        if close { context.close(promise: nil) }
    }
}
