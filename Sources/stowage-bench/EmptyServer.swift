import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `stowage-bench empty --port P`: Hummingbird answering the request shapes `make bench` sends
/// (`HEAD`/`GET` under `/v2`, the ECR JSON 1.1 envelope on `POST /`) from empty handlers — the
/// limit a row's Stowage figure is read against: what the HTTP stack alone costs on this machine.
enum EmptyServer {
    static func run(_ arguments: [String]) async throws {
        let port = arguments.firstIndex(of: "--port").flatMap { Int(arguments[$0 + 1]) } ?? 0
        let router = Router()
        let blob: HTTPFields = [
            .contentLength: "11", .contentType: "application/octet-stream",
            HTTPField.Name("Docker-Content-Digest")!:
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ]
        for path in ["/v2", "/v2/**"] {
            router.head(RouterPath(path)) { _, _ in Response(status: .ok, headers: blob) }
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: "{}")))
            }
        }
        router.post("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/x-amz-json-1.1"],
                body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        var logger = Logger(label: "empty")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await app.runService()
    }
}
