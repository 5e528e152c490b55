import ArgumentParser
import FoundationEssentials

/// `stowage login-password`: prints a password for `docker login -u AWS`, like `aws ecr get-login-password`.
struct LoginPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login-password",
        abstract: "Print a password for `docker login --username AWS` (valid 12 hours on the server's clock).",
        discussion: "stowage login-password | docker login --username AWS --password-stdin 127.0.0.1:5000"
    )

    @OptionGroup var options: ServerOptions

    @Option(help: "The 12-digit account the token acts in.")
    var account: String = "000000000000"

    @Option(help: "The region the token acts in.")
    var region: String = "us-east-1"

    func run() async throws {
        let answer = try await AdminClient(options: options).object(
            "POST", "/_admin/token" + scopeQuery(account: account, region: region), quiet: true)
        guard let password = answer["password"] as? String else { fail("the server gave no password") }
        print(password)
    }
}
