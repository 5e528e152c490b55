import ArgumentParser

/// The `stowage` command: the server and the tools around it.
@main
struct Stowage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stowage",
        abstract: "A local AWS ECR for tests and development: OCI Distribution v2 and the ECR API from one process.",
        subcommands: [
            Serve.self, LoginPassword.self, Reset.self, CheckpointCommand.self, Rewind.self, Export.self, Import.self,
            Log.self, State.self, UploadCommand.self, ClockCommand.self, Stats.self, Inspect.self,
        ],
        defaultSubcommand: Serve.self
    )
}
