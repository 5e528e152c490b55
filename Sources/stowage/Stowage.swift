import ArgumentParser
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The `stowage` command: the server and the tools around it.
@main
struct Stowage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stowage",
        abstract: "A local AWS ECR for tests and development: OCI Distribution v2 and the ECR API from one process.",
        discussion: """
            With no command, or with only options, `stowage` serves (`stowage --port 5001` is `stowage serve --port 5001`). \
            Every command that talks to a running server takes --server (default $STOWAGE_SERVER, else http://127.0.0.1 on $STOWAGE_ADMIN_PORT, $STOWAGE_PORT or 5000).
            """,
        version: stowageVersion,
        subcommands: [
            Serve.self, LoginPassword.self, Health.self, Stats.self,
            Reset.self, CheckpointCommand.self, Checkpoints.self, Rewind.self, Export.self, Import.self, Compact.self,
            Log.self, State.self, Diff.self, TagHistory.self, Uploads.self, UploadCommand.self,
            Repositories.self, Lifecycle.self, ScanFindings.self, ClockCommand.self, Config.self, Faults.self,
            Replay.self, Inspect.self,
        ],
        defaultSubcommand: Serve.self
    )

    /// The release, as `stowage --version` prints it and the container image is tagged.
    static let stowageVersion = "0.13.0"

    /// Every command's name, as typed.
    static var commandNames: [String] {
        configuration.subcommands.map { $0._commandName } + ["help"]
    }

    /// An unknown first word is an unknown command (not an argument to `serve`), with the nearest name.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let word = arguments.first, !word.hasPrefix("-"), !commandNames.contains(word) {
            let nearest = commandNames.min { distance(word, $0) < distance(word, $1) }!
            var message = "stowage: unknown command '\(word)'"
            if distance(word, nearest) <= max(2, word.count / 3) || nearest.hasPrefix(word) || word.hasPrefix(nearest) {
                message += "; did you mean '\(nearest)'?"
            }
            message +=
                "\nthe commands: \(commandNames.filter { $0 != "help" }.joined(separator: ", ")) (stowage help <command>)\n"
            writeStandardError(message)
            Glibc.exit(64)
        }
        await main(nil)
    }

    /// Levenshtein distance: how many single-character edits turn one word into the other.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
