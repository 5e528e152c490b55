import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import Hummingbird
import Logging
import NIOCore

/// Logs one line per request once it is answered: method, path, status and duration.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, start)
            return response
        } catch let error as any HTTPResponseError {
            log(request, context, status: error.status.code, start)
            throw error
        } catch {
            log(request, context, status: 500, start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, _ start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        // ECR calls all POST /: name the operation.
        let operation =
            request.headers[.amzTarget].map { " " + ($0.split(separator: ".").last.map(String.init) ?? $0) } ?? ""
        context.logger.info("\(request.method) \(request.uri)\(operation) \(status) \(Int(ms * 1000))µs")
    }
}
