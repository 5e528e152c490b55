import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `stowage login-password`: prints a password for `docker login -u AWS`, like `aws ecr get-login-password`.
struct LoginPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login-password",
        abstract: "Print a password for `docker login --username AWS` (valid 12 hours on the server's clock).",
        discussion: "stowage login-password | docker login --username AWS --password-stdin 127.0.0.1:5000"
    )

    @Option(help: "The running server to ask.")
    var server: String = env("STOWAGE_SERVER") ?? "http://127.0.0.1:5000"

    @Option(help: "The 12-digit account the token acts in.")
    var account: String = "000000000000"

    @Option(help: "The region the token acts in.")
    var region: String = "us-east-1"

    func run() async throws {
        guard var components = URLComponents(string: server + "/_admin/token") else {
            throw ValidationError("--server must be a URL such as http://127.0.0.1:5000")
        }
        components.queryItems = [
            URLQueryItem(name: "account", value: account), URLQueryItem(name: "region", value: region),
        ]
        var request = URLRequest(url: components.url!)
        request.httpMethod = "POST"
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            FileHandle.standardError.write(
                Data("stowage: cannot reach \(server): \(error.localizedDescription)\n".utf8))
            throw ExitCode(1)
        }
        struct Body: Decodable { var password: String }
        guard (response as? HTTPURLResponse)?.statusCode == 200,
            let body = try? JSONDecoder().decode(Body.self, from: data)
        else {
            FileHandle.standardError.write(
                Data("stowage: \(server) refused: \(String(decoding: data, as: UTF8.self))\n".utf8))
            throw ExitCode(1)
        }
        print(body.password)
    }
}
