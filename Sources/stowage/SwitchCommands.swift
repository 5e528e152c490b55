import ArgumentParser
import FoundationEssentials

/// `stowage config`: show the server's switches, or flip some (logged as history).
struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Show the server's switches, or change them: referrers, deletes, a Warning header, a rate limit, the chunk minimum.",
        discussion: "stowage config --referrers off --warning 'this registry is going away' --rate-limit 5")
    @OptionGroup var options: ServerOptions
    @Option(help: "on or off: the referrers API (off: 404, clients fall back to the tag schema).") var referrers:
        Toggle?
    @Option(help: "on or off: deletes on /v2 (off: 405 UNSUPPORTED).") var deletes: Toggle?
    @Option(help: "Put `Warning: 299 - \"TEXT\"` on every /v2 response (\"\" clears it).") var warning: String?
    @Option(help: "Requests a second on /v2 and the ECR API (0 clears it).") var rateLimit: Int?
    @Option(help: "The OCI-Chunk-Min-Length to advertise (0 clears it).") var chunkMinLength: Int?

    enum Toggle: String, ExpressibleByArgument {
        case on, off
    }

    func run() async throws {
        var body: [String: Any] = [:]
        if let referrers { body["referrers"] = referrers == .on }
        if let deletes { body["deletes"] = deletes == .on }
        if let warning { body["warning"] = warning.isEmpty ? JSON.Null() : warning }
        if let rateLimit { body["rateLimit"] = rateLimit == 0 ? JSON.Null() : rateLimit }
        if let chunkMinLength { body["chunkMinLength"] = chunkMinLength == 0 ? JSON.Null() : chunkMinLength }
        let client = AdminClient(options: options)
        if body.isEmpty {
            let answer = try await client.object("GET", "/_admin/config")
            if !options.json { print(answer["summary"] ?? "") }
        } else {
            let answer = try await client.object("POST", "/_admin/config", body: body)
            let switches = answer["switches"] as? [String: Any] ?? [:]
            if !options.json { print("switches: \(switches["summary"] ?? "") (record \(answer["sequence"] ?? "?"))") }
        }
    }
}

/// `stowage faults`: list, add or clear injected faults.
struct Faults: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "List the injected faults, add one, or clear them: how a test makes the registry fail exactly when it wants.",
        discussion: """
            stowage faults --method PATCH --route upload --status 503 --count 2
            stowage faults --route ecr:PutImage --status 500 --probability 0.3 --seed 7
            stowage faults --route blob --drop --count 1
            stowage faults --clear
            """)
    @OptionGroup var options: ServerOptions
    @Option(help: "Only requests with this method.") var method: String?
    @Option(
        help: "Only this route: base, catalog, tags, manifest, blob, uploads, upload, referrers; or ecr:<Operation>.")
    var route: String?
    @Option(help: "Only requests for this repository.") var repository: String?
    @Option(help: "Only requests acting in this account.") var account: String?
    @Option(help: "Answer with this status.") var status: Int?
    @Option(help: "The error code (an OCI code on /v2, an ECR exception on the ECR API).") var code: String?
    @Option(help: "The error message.") var message: String?
    @Option(help: "Wait this many milliseconds first (alone: the request then goes on).") var delay: Int?
    @Flag(help: "Close the connection without an answer.") var drop = false
    @Option(help: "Answer the next N matching requests.") var count: Int?
    @Option(help: "Answer each matching request with this probability (0...1).") var probability: Double?
    @Option(help: "With --probability: the seed that makes its choices repeatable.") var seed: UInt64?
    @Flag(help: "Remove every fault (or, with --id, one).") var clear = false
    @Option(help: "With --clear: only this fault.") var id: Int?

    var adding: Bool { status != nil || delay != nil || drop }

    func validate() throws {
        if adding && clear { throw ValidationError("--clear removes faults; it does not go with a fault's answer") }
        if adding && count == nil && probability == nil {
            throw ValidationError("a fault needs --count N or --probability P")
        }
    }

    func run() async throws {
        let client = AdminClient(options: options)
        if clear {
            let answer = try await client.object("DELETE", "/_admin/faults" + (id.map { "?id=\($0)" } ?? ""))
            if !options.json { print("removed \(answer["removed"] ?? 0) fault(s)") }
            return
        }
        if adding {
            var match: [String: Any] = [:]
            if let method { match["method"] = method }
            if let route {
                if route.hasPrefix("ecr:") {
                    match["face"] = "ecr"
                    match["route"] = String(route.dropFirst(4))
                } else {
                    match["face"] = "oci"
                    match["route"] = route
                }
            }
            if let repository { match["repository"] = repository }
            if let account { match["account"] = account }
            var answer: [String: Any] = [:]
            if let status { answer["status"] = status }
            if let code { answer["code"] = code }
            if let message { answer["message"] = message }
            if let delay { answer["delay"] = delay }
            if drop { answer["drop"] = true }
            var body: [String: Any] = ["match": match, "answer": answer]
            if let count { body["count"] = count }
            if let probability { body["probability"] = probability }
            if let seed { body["seed"] = seed }
            let added = try await client.object("POST", "/_admin/faults", body: body)
            if !options.json { print("added \(added["summary"] ?? "")") }
            return
        }
        let answer = try await client.object("GET", "/_admin/faults")
        guard !options.json else { return }
        let faults = answer["faults"] as? [[String: Any]] ?? []
        if faults.isEmpty { print("no faults") }
        for fault in faults {
            let match = (fault["match"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let left = (fault["count"]).map { "\($0) left" } ?? "probability \(fault["probability"] ?? "?")"
            print(
                "\(fault["summary"] ?? "")  for \(match.isEmpty ? "every request" : match)  \(left), \(fault["injected"] ?? 0) injected"
            )
        }
    }
}
