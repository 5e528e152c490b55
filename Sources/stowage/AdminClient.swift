import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Options every command that talks to a running server shares.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .customLong("server"),
        help: ArgumentHelp(
            "The running server's admin API: a URL or host:port.",
            discussion: "Default: $STOWAGE_SERVER, else http://127.0.0.1:5000 (with --admin-port, that listener)."))
    var serverOption: String?

    /// The server's base URL: the option, else `STOWAGE_SERVER`, else the default; `host:port` gets `http://`.
    var server: String { Self.url(serverOption ?? env("STOWAGE_SERVER") ?? "http://127.0.0.1:5000") }

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
        guard let url = URL(string: options.server + path) else {
            throw ValidationError("--server must be a URL such as http://127.0.0.1:5000")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 600
        if let token = options.adminToken { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            fail("cannot reach \(options.server): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let message = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])
                .flatMap { ($0["error"] as? [String: Any])?["message"] as? String }
            fail(message ?? "the server answered \(status)")
        }
        return data
    }

    /// Calls and decodes a JSON object.
    func object(_ method: String, _ path: String, body: Any? = nil, quiet: Bool = false) async throws -> [String: Any] {
        let data = try await call(method, path, body: try body.map { try JSONSerialization.data(withJSONObject: $0) })
        if options.json && !quiet { print(String(decoding: data, as: UTF8.self)) }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}

/// Prints to standard error and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("stowage: \(message)\n".utf8))
    Foundation.exit(1)
}

/// `?account=&region=` when given.
func scopeQuery(account: String?, region: String?) -> String {
    var items: [String] = []
    if let account { items.append("account=\(account)") }
    if let region { items.append("region=\(region)") }
    return items.isEmpty ? "" : "?" + items.joined(separator: "&")
}

func percentEncoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}
