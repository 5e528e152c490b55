import ArgumentParser
import FoundationEssentials
import StowageCore
import StowageHTTP

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Empty the registry (or one account-region) in O(1), or return it to a checkpoint; checkpoints are kept.")
    @OptionGroup var options: ServerOptions
    @Option(help: "Only this account.") var account: String?
    @Option(help: "Only this region.") var region: String?
    @Option(help: "Return to this checkpoint instead of emptying (fixture: where serve --fixture left it).")
    var to: String?

    func validate() throws {
        if to != nil && (account != nil || region != nil) {
            throw ValidationError("--to returns the whole registry to a checkpoint: no --account or --region")
        }
    }

    func run() async throws {
        let query = to.map { "?to=\(percentEncoded($0))" } ?? scopeQuery(account: account, region: region)
        let answer = try await AdminClient(options: options).object("POST", "/_admin/reset" + query)
        guard !options.json else { return }
        if let to {
            print(
                "reset to checkpoint \(to) (record \(answer["restored"] ?? "?")) at sequence \(answer["sequence"] ?? "?")"
            )
        } else {
            print("reset at sequence \(answer["sequence"] ?? "?")")
        }
    }
}

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Name the current point of history, to rewind to later.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The checkpoint's name: 1 to 128 of [A-Za-z0-9._-].") var name: String

    func run() async throws {
        let answer = try await AdminClient(options: options).object("POST", "/_admin/checkpoints", body: ["name": name])
        if !options.json { print("checkpoint \(name) at sequence \(answer["sequence"] ?? "?")") }
    }
}

struct Rewind: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the registry what it was at a checkpoint or right after a record.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "A checkpoint name or a sequence number.") var to: String

    func run() async throws {
        let target: Any = UInt64(to).map { $0 as Any } ?? to
        let answer = try await AdminClient(options: options).object("POST", "/_admin/rewind", body: ["to": target])
        guard !options.json else { return }
        let what =
            (answer["checkpoint"] as? String).map { "checkpoint \($0) (record \(answer["restored"] ?? "?"))" }
            ?? "record \(answer["restored"] ?? "?")"
        print("rewound to \(what); the rewind is record \(answer["sequence"] ?? "?")")
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Save the registry and its blobs to one file (a fixture), or with --history a recording of its history.",
        discussion:
            "A recording opens with `stowage serve --replay FILE`: the page, the log and /v2 reads at any point.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The file to write.") var file: String
    @Flag(help: "Leave the blobs out (import only where they already are).") var noBlobs = false
    @Flag(help: "Write a recording: the history (every record, with the blobs it linked), not only the registry now.")
    var history = false
    @Option(help: "With --history: start after this checkpoint or record (default: the oldest history kept).")
    var since: String?

    func validate() throws {
        if since != nil && !history { throw ValidationError("--since goes with --history") }
        if noBlobs && history { throw ValidationError("a recording always holds its blobs: --no-blobs is for exports") }
    }

    func run() async throws {
        var path = "/_admin/export" + (noBlobs ? "?blobs=false" : "")
        if history { path = "/_admin/export?history=true" + (since.map { "&since=\(percentEncoded($0))" } ?? "") }
        let data = try await AdminClient(options: options).call("GET", path)
        try data.write(to: URL(fileURLWithPath: file))
        print(
            history
                ? "recorded \(data.count) bytes of history to \(file) (open it with: stowage serve --replay \(file))"
                : "exported \(data.count) bytes to \(file)")
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the registry with an export file, or push an OCI layout tar into a repository.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "An export file (or, with --oci-layout, a tar of an OCI image layout).") var file: String
    @Flag(help: "The file is a tar of an OCI image layout (as skopeo's oci-archive: writes).") var ociLayout = false
    @Option(help: "With --oci-layout: the repository to push into.") var repository: String?

    func validate() throws {
        if ociLayout && repository == nil { throw ValidationError("--oci-layout needs --repository NAME") }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
        let path =
            ociLayout ? "/_admin/import?format=oci-layout&repository=\(percentEncoded(repository!))" : "/_admin/import"
        let body = try await AdminClient(options: options).call("POST", path, body: data)
        if options.json {
            print(String(decoding: body, as: UTF8.self))
            return
        }
        let answer = JSON.object(body)
        if ociLayout {
            print(
                "imported \((answer["manifests"] as? [Any])?.count ?? 0) manifest(s) and \(answer["blobs"] ?? 0) blob(s) into \(repository!) (record \(answer["sequence"] ?? "?"))"
            )
            let moved = answer["moved"] as? [[String: Any]] ?? []
            if moved.isEmpty { print("  no tag moved") }
            for move in moved {
                let from = (move["from"] as? String).map { "moved from \($0)" } ?? "new"
                print("  tag \(move["tag"] ?? "") -> \(move["to"] ?? "")  (\(from))")
            }
        } else {
            print(
                "imported \(answer["repositories"] ?? 0) repositories, \(answer["images"] ?? 0) images, \(answer["blobs"] ?? 0) blobs (record \(answer["sequence"] ?? "?"))"
            )
        }
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the event log: every command, applied or refused, in a line each.",
        discussion: "With --follow, new records are printed as they happen, from now on (or after --after).")
    @OptionGroup var options: ServerOptions
    @Option(help: "Only records after this sequence number (default: from the first kept; with --follow, from now).")
    var after: UInt64?
    @Option(help: "At most this many records (not with --follow).") var limit: Int?
    @Option(help: "Only this upload's records.") var upload: String?
    @Option(help: "Only this repository's records.") var repository: String?
    @Option(help: "Only records of this kind (putManifest, appendChunk, ...).") var kind: String?
    @Option(help: "Only this account.") var account: String?
    @Option(help: "Only this region.") var region: String?
    @Flag(help: "Only refused records.") var refused = false
    @Flag(help: "Keep printing new records as they happen.") var follow = false

    func validate() throws {
        if let kind, !Command.kinds.contains(kind) {
            throw ValidationError("--kind must be one of \(Command.kinds.joined(separator: ", ")), not '\(kind)'")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let client = AdminClient(options: options)
        var after = self.after ?? 0
        if follow && self.after == nil {
            after =
                ((try await client.object("GET", "/_admin/health", quiet: true))["sequence"] as? Int)
                .map { UInt64($0) } ?? 0
        }
        var left = follow ? Int.max : limit ?? Int.max
        while left > 0 {
            var query = "?after=\(after)&limit=\(min(left, 1000))"
            for (key, value) in [
                ("upload", upload), ("repository", repository), ("kind", kind), ("account", account),
                ("region", region),
            ] {
                if let value { query += "&\(key)=\(percentEncoded(value))" }
            }
            if refused { query += "&refused=true" }
            let data = try await client.call("GET", "/_admin/log" + query)
            let answer = JSON.object(data)
            let records = answer["records"] as? [[String: Any]] ?? []
            for record in records.prefix(left) {
                if options.json {
                    write(JSON.value(of: record).text)
                } else {
                    write(Self.describe(record))
                }
                after = max(after, (record["sequence"] as? Int).map { UInt64($0) } ?? after)
                if !follow { left -= 1 }
            }
            if !follow && answer["next"] == nil { return }
            if follow && records.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        }
    }

    /// A line, flushed at once: a pipe or a file sees each record as it comes.
    private func write(_ line: String) {
        writeStandardOutput((line + "\n"))
    }

    static func describe(_ record: [String: Any]) -> String {
        var line =
            "#\(record["sequence"] ?? "?") \(record["time"] ?? "") \(record["account"] ?? "")/\(record["region"] ?? "")"
        line += " \(record["kind"] ?? "")  \(record["summary"] ?? "")"
        return line
    }
}

struct State: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the registry now, or as it was at a checkpoint, a record or a time: images with their tags.")
    @OptionGroup var options: ServerOptions
    @Option(help: "A checkpoint name, a sequence number or an RFC 3339 time (the last record at or before it).")
    var at: String?

    func run() async throws {
        let answer = try await AdminClient(options: options).object(
            "GET", "/_admin/state" + (at.map { "?at=\(percentEncoded($0))" } ?? ""))
        guard !options.json else { return }
        print("at sequence \(answer["sequence"] ?? "?") (\(answer["time"] ?? ""))")
        for registry in answer["registries"] as? [[String: Any]] ?? [] {
            print("\(registry["account"] ?? "")/\(registry["region"] ?? ""):")
            for repository in registry["repositories"] as? [[String: Any]] ?? [] {
                let images = repository["images"] as? [[String: Any]] ?? []
                print("  \(repository["name"] ?? "")  \(images.count) image(s)")
                let tags = repository["tags"] as? [String: String] ?? [:]
                for image in images {
                    let digest = image["digest"] as? String ?? "?"
                    let named = tags.filter { $0.value == digest }.keys.sorted()
                    print("    \(digest)  \(named.isEmpty ? "untagged" : named.joined(separator: ", "))")
                }
            }
            for upload in registry["uploads"] as? [[String: Any]] ?? [] {
                print("  upload \(upload["id"] ?? "") into \(upload["repository"] ?? ""): \(upload["size"] ?? 0) bytes")
            }
        }
        for checkpoint in answer["checkpoints"] as? [[String: Any]] ?? [] {
            print("checkpoint \(checkpoint["name"] ?? "") at \(checkpoint["sequence"] ?? "")")
        }
    }
}

struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload", abstract: "Show an upload's whole story: chunks, refusals, commit.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The upload id (Docker-Upload-UUID).") var id: String

    func run() async throws {
        let answer = try await AdminClient(options: options).object("GET", "/_admin/uploads/\(percentEncoded(id))")
        guard !options.json else { return }
        print(
            "upload \(id) into \(answer["repository"] ?? "?"): \(answer["status"] ?? "?")"
                + ((answer["blob"] as? String).map { " -> \($0)" } ?? ""))
        for event in answer["events"] as? [[String: Any]] ?? [] {
            var line = "  #\(event["sequence"] ?? "") \(event["time"] ?? "") \(event["event"] ?? "")"
            if let offset = event["offset"], let length = event["length"] { line += " bytes \(offset)+\(length)" }
            if let claimed = event["claimed"], let computed = event["computed"] {
                line += " claimed \(claimed) computed \(computed)"
            }
            if let refused = event["refused"] { line += "  REFUSED: \(refused)" }
            print(line)
        }
    }
}

struct ClockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock", abstract: "Show, set or advance the server's clock.")
    @OptionGroup var options: ServerOptions
    @Option(help: "An RFC 3339 time to set the clock to.") var set: String?
    @Option(parsing: .unconditional, help: "A duration to move the clock by: 72h, 90m, 1h30m, -1d.") var advance:
        String?

    func run() async throws {
        let client = AdminClient(options: options)
        let answer: [String: Any]
        if let set {
            answer = try await client.object("POST", "/_admin/clock", body: ["set": set])
        } else if let advance {
            answer = try await client.object("POST", "/_admin/clock", body: ["advance": advance])
        } else {
            answer = try await client.object("GET", "/_admin/clock")
        }
        if !options.json { print(answer["now"] ?? "?") }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What the registry holds and how its storage stands.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let answer = try await AdminClient(options: options).object("GET", "/_admin/stats")
        guard !options.json else { return }
        for key in answer.keys.sorted() where !(answer[key] is [String: Any]) {
            print("\(key): \(answer[key] ?? "")")
        }
    }
}
