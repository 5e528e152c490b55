import ArgumentParser
import FoundationEssentials

/// `stowage health`: whether the server answers, and its last record.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Whether the server answers, and its last record.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let answer = try await AdminClient(options: options).object("GET", "/_admin/health")
        if !options.json { print("\(answer["status"] ?? "?") at record \(answer["sequence"] ?? "?")") }
    }
}

/// `stowage compact`: a snapshot now, older history pruned.
struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a snapshot now and prune older snapshots and log segments.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let answer = try await AdminClient(options: options).object("POST", "/_admin/compact")
        if !options.json {
            print(
                "snapshot at record \(answer["sequence"] ?? "?"), \(answer["bytes"] ?? "?") bytes; units of repositories: \(answer["unitsCopied"] ?? "?") copied from the last snapshot, \(answer["unitsWritten"] ?? "?") written"
            )
        }
    }
}

/// `stowage lifecycle`: evaluate every lifecycle policy now.
struct Lifecycle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate every repository's lifecycle policy at the server's clock and expire what it selects.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let answer = try await AdminClient(options: options).object("POST", "/_admin/lifecycle")
        guard !options.json else { return }
        let expired = answer["expired"] as? [[String: Any]] ?? []
        if expired.isEmpty { print("nothing expired") }
        for image in expired {
            print(
                "expired \(image["account"] ?? "")/\(image["region"] ?? "") \(image["repository"] ?? "") \(image["digest"] ?? "") by rule \(image["rulePriority"] ?? "?")"
            )
        }
    }
}

/// `stowage repositories`: list an account-region's repositories, or create one.
struct Repositories: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the repositories of an account and region, or create one with --create.")
    @OptionGroup var options: ServerOptions
    @Option(help: "Create this repository (as ECR CreateRepository).") var create: String?
    @Option(help: "With --create: MUTABLE, IMMUTABLE, ...") var tagMutability: String?
    @Option(help: "The account (default: 000000000000).") var account: String?
    @Option(help: "The region (default: us-east-1).") var region: String?

    func run() async throws {
        let client = AdminClient(options: options)
        let scope = scopeQuery(account: account, region: region)
        if let create {
            var body: [String: Any] = ["name": create]
            if let tagMutability { body["tagMutability"] = tagMutability }
            let answer = try await client.object("POST", "/_admin/repositories" + scope, body: body)
            if !options.json {
                print("created \(answer["repositoryUri"] ?? create) (record \(answer["sequence"] ?? "?"))")
            }
            return
        }
        let answer = try await client.object("GET", "/_admin/repositories" + scope)
        guard !options.json else { return }
        let repositories = answer["repositories"] as? [[String: Any]] ?? []
        if repositories.isEmpty { print("no repositories") }
        for repository in repositories {
            print(
                "\(repository["name"] ?? "")  \(repository["images"] ?? 0) image(s)  \(repository["tags"] ?? 0) tag(s)")
        }
    }
}

/// `stowage scan-findings DIGEST [NAME:SEVERITY ...]`: what scans of an image will find.
struct ScanFindings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan-findings",
        abstract: "Seed what scans of an image find (ECR StartImageScan, scan on push); no findings clears the seed.",
        discussion: "stowage scan-findings sha256:9d... CVE-2024-1234:HIGH CVE-2024-9999:LOW")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The image's digest.") var digest: String
    @Argument(help: "Findings as NAME:SEVERITY (INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNDEFINED).")
    var findings: [String] = []
    @Option(help: "The account.") var account: String?
    @Option(help: "The region.") var region: String?

    func validate() throws {
        for finding in findings where finding.split(separator: ":").count < 2 {
            throw ValidationError("a finding is NAME:SEVERITY, such as CVE-2024-1234:HIGH, not '\(finding)'")
        }
    }

    func run() async throws {
        let list: [[String: Any]] = findings.map { finding in
            let severity = finding.split(separator: ":").last.map(String.init) ?? ""
            return ["name": String(finding.dropLast(severity.count + 1)), "severity": severity]
        }
        let answer = try await AdminClient(options: options).object(
            "POST", "/_admin/scan-findings" + scopeQuery(account: account, region: region),
            body: ["digest": digest, "findings": list])
        if !options.json {
            print(
                list.isEmpty
                    ? "scans of \(digest) find nothing (record \(answer["sequence"] ?? "?"))"
                    : "scans of \(digest) find \(list.count) finding(s) (record \(answer["sequence"] ?? "?"))")
        }
    }
}
