import ArgumentParser
import Foundation

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Empty the registry (or one account-region) in O(1); checkpoints are kept.")
    @OptionGroup var options: ServerOptions
    @Option(help: "Only this account.") var account: String?
    @Option(help: "Only this region.") var region: String?

    func run() async throws {
        let answer = try await AdminClient(options: options).object(
            "POST", "/_admin/reset" + scopeQuery(account: account, region: region))
        if !options.json { print("reset at sequence \(answer["sequence"] ?? "?")") }
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
        abstract: "Save the registry and its blobs to one file (a fixture).")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The file to write.") var file: String
    @Flag(help: "Leave the blobs out (import only where they already are).") var noBlobs = false

    func run() async throws {
        let data = try await AdminClient(options: options).call(
            "GET", "/_admin/export" + (noBlobs ? "?blobs=false" : ""))
        try data.write(to: URL(fileURLWithPath: file))
        print("exported \(data.count) bytes to \(file)")
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
        let answer = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        if ociLayout {
            print(
                "imported \((answer["manifests"] as? [Any])?.count ?? 0) manifest(s) into \(repository!), tags: \((answer["tags"] as? [String])?.joined(separator: ", ") ?? "")"
            )
        } else {
            print(
                "imported \(answer["repositories"] ?? 0) repositories, \(answer["images"] ?? 0) images, \(answer["blobs"] ?? 0) blobs (record \(answer["sequence"] ?? "?"))"
            )
        }
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read the event log: every command, applied or refused.")
    @OptionGroup var options: ServerOptions
    @Option(help: "Only records after this sequence number.") var after: UInt64 = 0
    @Option(help: "At most this many records.") var limit: Int = 1000
    @Option(help: "Only this upload's records.") var upload: String?
    @Option(help: "Only this repository's records.") var repository: String?
    @Option(help: "Only records of this kind (putManifest, appendChunk, ...).") var kind: String?
    @Flag(help: "Keep printing new records as they happen.") var follow = false

    func run() async throws {
        let client = AdminClient(options: options)
        var after = self.after
        while true {
            var query = "?after=\(after)&limit=\(limit)"
            if let upload { query += "&upload=\(percentEncoded(upload))" }
            if let repository { query += "&repository=\(percentEncoded(repository))" }
            if let kind { query += "&kind=\(percentEncoded(kind))" }
            let data = try await client.call("GET", "/_admin/log" + query)
            let answer = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
            let records = answer["records"] as? [[String: Any]] ?? []
            for record in records {
                if options.json {
                    print(
                        String(
                            decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]),
                            as: UTF8.self))
                } else {
                    print(describe(record))
                }
                after = max(after, (record["sequence"] as? NSNumber)?.uint64Value ?? after)
            }
            if !follow && answer["next"] == nil { return }
            if records.isEmpty { try await Task.sleep(for: .milliseconds(300)) }
        }
    }

    func describe(_ record: [String: Any]) -> String {
        var line =
            "#\(record["sequence"] ?? "?") \(record["time"] ?? "") \(record["account"] ?? "")/\(record["region"] ?? "") \(record["kind"] ?? "")"
        if let repository = record["repository"] { line += " \(repository)" }
        if let upload = record["upload"] { line += " upload=\(upload)" }
        if let command = record["command"] as? [String: Any], let fields = command.values.first as? [String: Any] {
            let keys =
                ["offset", "length", "digest", "tag", "claimed", "computed", "size"]
                + (record["kind"] as? String == "checkpoint" ? ["name"] : [])
            for key in keys {
                if let value = fields[key] { line += " \(key)=\(value)" }
            }
        }
        if let refusal = record["refusal"] as? String { line += "  REFUSED: \(refusal)" }
        return line
    }
}

struct State: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the registry now, or as it was at a sequence number or time.")
    @OptionGroup var options: ServerOptions
    @Option(help: "A sequence number or an RFC 3339 time.") var at: String?

    func run() async throws {
        let answer = try await AdminClient(options: options).object(
            "GET", "/_admin/state" + (at.map { "?at=\(percentEncoded($0))" } ?? ""))
        guard !options.json else { return }
        print("at sequence \(answer["sequence"] ?? "?") (\(answer["time"] ?? ""))")
        for registry in answer["registries"] as? [[String: Any]] ?? [] {
            print("\(registry["account"] ?? "")/\(registry["region"] ?? ""):")
            for repository in registry["repositories"] as? [[String: Any]] ?? [] {
                let images = repository["images"] as? [[String: Any]] ?? []
                let tags = (repository["tags"] as? [String: String] ?? [:]).keys.sorted()
                print("  \(repository["name"] ?? "")  \(images.count) image(s)  tags: \(tags.joined(separator: ", "))")
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
    @Option(help: "A duration to move the clock by: 72h, 90m, 1h30m, -10s.") var advance: String?

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
