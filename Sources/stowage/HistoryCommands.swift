import ArgumentParser
import FoundationEssentials
import StowageHTTP

/// `stowage diff FROM [TO]`: what changed between two points, a line per change.
struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What changed between two points: repositories, images, tags (with both digests), settings.",
        discussion: "Each point is a checkpoint name, a sequence number or an RFC 3339 time; TO defaults to now.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The earlier point.") var from: String
    @Argument(help: "The later point (default: now).") var to: String?

    func run() async throws {
        var query = "?from=\(percentEncoded(from))"
        if let to { query += "&to=\(percentEncoded(to))" }
        let answer = try await AdminClient(options: options).object("GET", "/_admin/diff" + query)
        guard !options.json else { return }
        for line in Self.lines(answer) { print(line) }
    }

    static func point(_ value: Any?) -> String {
        let point = value as? [String: Any] ?? [:]
        let name = (point["checkpoint"] as? String).map { "checkpoint \($0), " } ?? ""
        return "\(name)record \(point["sequence"] ?? "?") (\(point["time"] ?? ""))"
    }

    static func lines(_ answer: [String: Any]) -> [String] {
        var lines = ["from \(point(answer["from"])) to \(point(answer["to"]))"]
        if answer["unchanged"] as? Bool == true { return lines + ["  nothing changed"] }
        func settings(_ value: Any?, indent: String) -> [String] {
            (value as? [[String: Any]] ?? []).map { setting in
                "\(indent)\(setting["field"] ?? ""): \(setting["from"] ?? "unset") -> \(setting["to"] ?? "unset")"
            }
        }
        for registry in answer["registries"] as? [[String: Any]] ?? [] {
            lines.append("\(registry["account"] ?? "")/\(registry["region"] ?? ""):")
            lines += settings(registry["registrySettings"], indent: "  registry ")
            for (key, sign) in [("repositoriesAdded", "+"), ("repositoriesRemoved", "-")] {
                for repository in registry[key] as? [[String: Any]] ?? [] {
                    let images = (repository[sign == "+" ? "imagesAdded" : "imagesRemoved"] as? [Any])?.count ?? 0
                    lines.append("  \(sign) repository \(repository["name"] ?? "") (\(images) image(s))")
                    lines += tagLines(repository, indent: "      ")
                }
            }
            for repository in registry["repositoriesChanged"] as? [[String: Any]] ?? [] {
                lines.append("  ~ repository \(repository["name"] ?? "")")
                lines += settings(repository["settings"], indent: "      ")
                for digest in repository["imagesAdded"] as? [String] ?? [] { lines.append("      + image \(digest)") }
                for digest in repository["imagesRemoved"] as? [String] ?? [] { lines.append("      - image \(digest)") }
                lines += tagLines(repository, indent: "      ")
                let linked = (repository["blobsLinked"] as? [Any])?.count ?? 0
                let unlinked = (repository["blobsUnlinked"] as? [Any])?.count ?? 0
                if linked + unlinked > 0 { lines.append("      blobs: \(linked) linked, \(unlinked) unlinked") }
            }
        }
        for name in answer["checkpointsAdded"] as? [String] ?? [] { lines.append("+ checkpoint \(name)") }
        for name in answer["checkpointsRemoved"] as? [String] ?? [] { lines.append("- checkpoint \(name)") }
        if let clock = answer["clock"] as? [String: Any] {
            lines.append("clock offset: \(clock["from"] ?? "0") -> \(clock["to"] ?? "0")")
        }
        return lines
    }

    static func tagLines(_ repository: [String: Any], indent: String) -> [String] {
        (repository["tags"] as? [[String: Any]] ?? []).map { change in
            let tag = change["tag"] ?? ""
            switch (change["from"] as? String, change["to"] as? String) {
            case (nil, let to?): return "\(indent)+ tag \(tag) -> \(to)"
            case (let from?, nil): return "\(indent)- tag \(tag) (was \(from))"
            case (let from?, let to?): return "\(indent)~ tag \(tag): \(from) -> \(to)"
            case (nil, nil): return "\(indent)~ tag \(tag)"
            }
        }
    }
}

/// `stowage tag-history REPOSITORY TAG`: every move of one tag, and why.
struct TagHistory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag-history", abstract: "Every move of a tag, oldest first, with the digest and the cause.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "The repository.") var repository: String
    @Argument(help: "The tag.") var tag: String
    @Option(help: "Only moves at or after this point (checkpoint, sequence number or RFC 3339 time).") var start:
        String?
    @Option(help: "Only moves at or before this point.") var end: String?
    @Option(help: "The account (default: the server's default).") var account: String?
    @Option(help: "The region.") var region: String?

    func run() async throws {
        var query = "?repository=\(percentEncoded(repository))&tag=\(percentEncoded(tag))"
        for (key, value) in [("start", start), ("end", end), ("account", account), ("region", region)] {
            if let value { query += "&\(key)=\(percentEncoded(value))" }
        }
        let answer = try await AdminClient(options: options).object("GET", "/_admin/tags/history" + query)
        guard !options.json else { return }
        let moves = answer["moves"] as? [[String: Any]] ?? []
        print("\(repository):\(tag): \(moves.count) move(s) since record \(answer["historyStartsAt"] ?? "?")")
        for move in moves {
            let target = move["deleted"] as? Bool == true ? "deleted" : "\(move["digest"] ?? "?")"
            print("  #\(move["sequence"] ?? "?") \(move["time"] ?? "")  \(target)  by \(move["cause"] ?? "?")")
        }
    }
}

/// `stowage uploads`: uploads in flight and the most recent ones.
struct Uploads: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Uploads in flight and the most recent ones, newest first (`stowage upload ID` tells one's story).")
    @OptionGroup var options: ServerOptions
    @Option(help: "At most this many.") var limit: Int = 50

    func run() async throws {
        let answer = try await AdminClient(options: options).object("GET", "/_admin/uploads?limit=\(limit)")
        guard !options.json else { return }
        let uploads = answer["uploads"] as? [[String: Any]] ?? []
        if uploads.isEmpty { print("no uploads in the history kept") }
        for upload in uploads {
            var line = "\(upload["id"] ?? "?")  \(upload["repository"] ?? "?")  \(upload["status"] ?? "?")"
            if let size = upload["size"] { line += "  \(size) bytes" }
            if let blob = upload["blob"] { line += "  -> \(blob)" }
            if let refusals = upload["refusals"] as? Int, refusals > 0 { line += "  \(refusals) refused" }
            print(line)
        }
    }
}

/// `stowage checkpoints`: the named points to rewind to.
struct Checkpoints: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The checkpoints, oldest first.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let answer = try await AdminClient(options: options).object("GET", "/_admin/checkpoints")
        guard !options.json else { return }
        let checkpoints = answer["checkpoints"] as? [[String: Any]] ?? []
        if checkpoints.isEmpty { print("no checkpoints") }
        for checkpoint in checkpoints {
            print("\(checkpoint["name"] ?? "")  record \(checkpoint["sequence"] ?? "?")  \(checkpoint["time"] ?? "")")
        }
    }
}

/// `stowage replay [POINT]`: where a replay stands, or move it.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "On a server started with --replay: show which point it serves, or move it to another.",
        discussion:
            "Every reader (/v2, the ECR API, /_admin/state, the page) then sees the registry as it was at that point.")
    @OptionGroup var options: ServerOptions
    @Argument(help: "A checkpoint name, a record number or an RFC 3339 time.") var point: String?

    func run() async throws {
        let client = AdminClient(options: options)
        let answer: [String: Any]
        if let point {
            let at: Any = UInt64(point).map { $0 as Any } ?? point
            answer = try await client.object("POST", "/_admin/replay", body: ["at": at])
        } else {
            answer = try await client.object("GET", "/_admin/replay")
        }
        guard !options.json else { return }
        guard answer["replaying"] as? Bool == true else {
            print("this server is live, not a replay (at record \(answer["at"] ?? "?"))")
            return
        }
        let name = (answer["checkpoint"] as? String).map { " (checkpoint \($0))" } ?? ""
        print(
            "showing record \(answer["at"] ?? "?")\(name), \(answer["time"] ?? ""), of records \((answer["start"] as? Int).map { $0 + 1 } ?? 1)...\(answer["end"] ?? "?")"
        )
    }
}
