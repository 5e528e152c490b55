import ArgumentParser
import FoundationEssentials
import StowageCore
import StowageHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Options every command that talks to a running server shares.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .customLong("server"),
        help: ArgumentHelp(
            "The running server's admin API: a URL or host:port.",
            discussion:
                "Default: $STOWAGE_SERVER, else http://127.0.0.1 on the port serve's variables name ($STOWAGE_ADMIN_PORT, else $STOWAGE_PORT), else 5000."
        ))
    var serverOption: String?

    /// The server's base URL: the option, else `STOWAGE_SERVER`, else loopback on the port `serve`'s variables
    /// give (so `stowage health` finds a server started with `STOWAGE_PORT`, as in the container image);
    /// `host:port` gets `http://`.
    var server: String {
        let port = env("STOWAGE_ADMIN_PORT") ?? env("STOWAGE_PORT") ?? "5000"
        return Self.url(serverOption ?? env("STOWAGE_SERVER") ?? "http://127.0.0.1:\(port)")
    }

    static func url(_ text: String) -> String {
        var url = text.contains("://") ? text : "http://" + text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    @Option(
        name: .customLong("admin-token"), help: "The server's --admin-token, if it has one (or STOWAGE_ADMIN_TOKEN).")
    var adminTokenOption: String?

    var adminToken: String? { adminTokenOption ?? env("STOWAGE_ADMIN_TOKEN") }

    @Flag(help: "Print the server's JSON answer instead of a summary.")
    var json = false
}

/// A small client of the `/_admin` API.
struct AdminClient {
    let options: ServerOptions

    /// Sends a request; exits with the server's error message when it is refused.
    func call(_ method: String, _ path: String, body: Data? = nil) async throws -> Data {
        var headers: [(String, String)] = []
        if let token = options.adminToken { headers.append(("Authorization", "Bearer \(token)")) }
        let response: PlainHTTPClient.Response
        do {
            response = try await PlainHTTPClient.send(
                method, options.server + path, headers: headers, body: body.map { Array($0) })
        } catch let failure as PlainHTTPClient.Failure {
            if case .invalidURL = failure {
                throw ValidationError("--server must be a URL such as http://127.0.0.1:5000")
            }
            fail("cannot reach \(options.server): \(failure)")
        }
        guard (200..<300).contains(response.status) else {
            let message = (try? JSONValue.parse(response.body))?["error"]?["message"]?.stringValue
            fail(message ?? "the server answered \(response.status)")
        }
        return Data(response.body)
    }

    /// Calls and decodes a JSON object.
    func object(_ method: String, _ path: String, body: Any? = nil, quiet: Bool = false) async throws -> [String: Any] {
        let data = try await call(method, path, body: body.map { Data(JSON.value(of: $0).text.utf8) })
        if options.json && !quiet { print(String(decoding: data, as: UTF8.self)) }
        return JSON.object(data)
    }
}

/// Prints to standard error and exits with status 1.
func fail(_ message: String) -> Never {
    writeStandardError("stowage: \(message)\n")
    exit(1)
}

/// `?account=&region=` when given.
func scopeQuery(account: String?, region: String?) -> String {
    var items: [String] = []
    if let account { items.append("account=\(account)") }
    if let region { items.append("region=\(region)") }
    return items.isEmpty ? "" : "?" + items.joined(separator: "&")
}
