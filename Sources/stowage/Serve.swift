public import ArgumentParser
import FoundationEssentials
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StowageCore
import StowageHTTP
import StowageStorage
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `stowage serve`: run the registry.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the registry server.",
        discussion:
            "Every option can also be set with an environment variable: STOWAGE_HOST, STOWAGE_PORT, STOWAGE_DATA_DIR, STOWAGE_EPHEMERAL=1, STOWAGE_AUTH, STOWAGE_CREATE_ON_PUSH=1, STOWAGE_FSYNC, STOWAGE_SNAPSHOT_EVERY, STOWAGE_GC_INTERVAL, STOWAGE_ADMIN_TOKEN, STOWAGE_ADMIN_PORT, STOWAGE_MAX_IMPORT_BYTES, STOWAGE_ACCOUNTS (KEY=ACCOUNT,...), STOWAGE_SPARSE_MANIFESTS=1, STOWAGE_UPLOAD_TIMEOUT, STOWAGE_CHUNK_MIN_LENGTH, STOWAGE_LOG_LEVEL. A flag wins over the variable."
    )

    @Option(help: "Address to listen on.")
    var host: String = env("STOWAGE_HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one and prints it.")
    var port: Int = env("STOWAGE_PORT").flatMap { Int($0) } ?? 5000

    @Option(help: "Directory for the log, snapshots, blobs and upload spools.")
    var dataDir: String = env("STOWAGE_DATA_DIR") ?? "./snapshots"

    @Flag(inversion: .prefixedNo, help: "Keep everything in memory: nothing is written to disk.")
    var ephemeral: Bool = envFlag("STOWAGE_EPHEMERAL")

    @Option(help: "Authentication on /v2: ecr (Basic AWS:<token>) or none.")
    var auth: AuthMode = env("STOWAGE_AUTH").flatMap { AuthMode(rawValue: $0) } ?? .ecr

    @Flag(inversion: .prefixedNo, help: "Create a repository on the first push to it (ECR answers NAME_UNKNOWN).")
    var createOnPush: Bool = envFlag("STOWAGE_CREATE_ON_PUSH")

    @Option(help: "When writes are made durable: always (fsync before acknowledging), batch, never.")
    var fsync: FsyncPolicy = env("STOWAGE_FSYNC").flatMap { FsyncPolicy(rawValue: $0) } ?? .always

    @Option(
        name: .customLong("snapshot-every"),
        help: """
            Write a snapshot every this many log records. Unset: every 10000, spaced further apart \
            as the registry grows so that snapshots cost at most 5 µs per record.
            """)
    var snapshotEveryOption: UInt64?

    var snapshotEvery: UInt64? { snapshotEveryOption ?? env("STOWAGE_SNAPSHOT_EVERY").flatMap { UInt64($0) } }

    @Option(help: "Seconds between looks for unreferenced blobs to remove (only after deletes or resets).")
    var gcInterval: Double = env("STOWAGE_GC_INTERVAL").flatMap { Double($0) } ?? 5

    @Option(name: .customLong("admin-token"), help: "Require `Authorization: Bearer <token>` on /_admin.")
    var adminTokenOption: String?

    var adminToken: String? { adminTokenOption ?? env("STOWAGE_ADMIN_TOKEN") }

    @Option(
        name: .customLong("admin-port"),
        help: "Serve /_admin on this port (0: a free one) instead of the main listener.")
    var adminPortOption: Int?

    var adminPort: Int? { adminPortOption ?? env("STOWAGE_ADMIN_PORT").flatMap { Int($0) } }

    @Option(help: "The largest file POST /_admin/import accepts, in bytes.")
    var maxImportBytes: Int = env("STOWAGE_MAX_IMPORT_BYTES").flatMap { Int($0) } ?? 1 << 30

    @Option(
        name: .customLong("account-for-key"), parsing: .singleValue,
        help:
            "KEY=ACCOUNT: the ECR API caller with this AWS access key acts in this 12-digit account (repeatable; a 12-digit key is its own account)."
    )
    var accountsForKeys: [String] = env("STOWAGE_ACCOUNTS")?.split(separator: ",").map(String.init) ?? []

    @Flag(
        inversion: .prefixedNo,
        help: "Accept image manifests with layers, and indexes with child manifests, the repository lacks.")
    var sparseManifests: Bool = envFlag("STOWAGE_SPARSE_MANIFESTS")

    @Option(help: "End uploads nobody touches for this long of the server's clock (e.g. 24h, 90m).")
    var uploadTimeout: String = env("STOWAGE_UPLOAD_TIMEOUT") ?? "24h"

    @Option(
        name: .customLong("chunk-min-length"),
        help: "Advertise OCI-Chunk-Min-Length: the smallest chunk (but the last) clients should send, in bytes.")
    var chunkMinLengthOption: Int64?

    var chunkMinLength: Int64? { chunkMinLengthOption ?? env("STOWAGE_CHUNK_MIN_LENGTH").flatMap { Int64($0) } }

    @Option(
        name: .customLong("fixture"), parsing: .singleValue,
        help: ArgumentHelp(
            "Load this before answering (repeatable): an export file, or an OCI image layout (tar or directory) as REPOSITORY=PATH; then checkpoint `fixture` (reset --to fixture returns there).",
            valueName: "[repository=]path"))
    var fixtures: [String] = []

    @Option(
        help: ArgumentHelp(
            "Serve a recording (stowage export --history) read-only, in memory: the page, /_admin reads and /v2 and ECR reads.",
            valueName: "file"))
    var replay: String?

    @Option(
        help:
            "With --replay: show the registry as it was at this point (checkpoint, record number or RFC 3339 time; default: its end)."
    )
    var at: String?

    @Flag(inversion: .prefixedNo, help: "The referrers API (off: 404, so clients fall back to the tag schema).")
    var referrers = !envFlag("STOWAGE_NO_REFERRERS")

    @Flag(inversion: .prefixedNo, help: "Deletes on /v2 (off: 405 UNSUPPORTED).")
    var deletes = !envFlag("STOWAGE_NO_DELETES")

    @Option(help: "Put `Warning: 299 - \"TEXT\"` on every /v2 response.")
    var warning: String?

    @Option(
        help:
            "At most this many requests a second on /v2 and the ECR API (429 TOOMANYREQUESTS / ThrottlingException past it)."
    )
    var rateLimit: Int?

    @Option(
        help:
            "Where ECR and the distribution-spec differ, behave as ecr (the default) or spec (see the README's table).")
    var profile: Profile = env("STOWAGE_PROFILE").flatMap { Profile(rawValue: $0) } ?? .ecr

    @Option(
        name: .customLong("registry-host"),
        help: ArgumentHelp(
            "Name repositories <account>.dkr.ecr.<region>.SUFFIX in repositoryUri (e.g. localhost:5000).",
            valueName: "suffix"))
    var registryHostOption: String?

    var registryHost: String? { registryHostOption ?? env("STOWAGE_REGISTRY_HOST") }

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = env("STOWAGE_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let adminPort, !(0...65535).contains(adminPort) { throw ValidationError("--admin-port must be 0...65535") }
        for entry in accountsForKeys {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, AccountID(String(parts[1])) != nil else {
                throw ValidationError("--account-for-key takes KEY=ACCOUNT with a 12-digit account, not '\(entry)'")
            }
        }
        guard gcInterval > 0 else { throw ValidationError("--gc-interval must be positive") }
        guard snapshotEvery.map({ $0 > 0 }) ?? true else {
            throw ValidationError("--snapshot-every must be at least 1")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard let timeout = parseDuration(uploadTimeout), timeout > 0 else {
            throw ValidationError(
                "--upload-timeout takes a positive duration such as 24h or 90m, not '\(uploadTimeout)'")
        }
        if at != nil && replay == nil { throw ValidationError("--at goes with --replay FILE") }
        if let rateLimit, rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1") }
        if let warning, warning.isEmpty || warning.count > 512 {
            throw ValidationError("--warning takes a text of 1 to 512 characters")
        }
        if !fixtures.isEmpty && replay != nil {
            throw ValidationError("a replay is read-only: --fixture goes without --replay")
        }
        guard chunkMinLength.map({ $0 > 0 }) ?? true else {
            throw ValidationError("--chunk-min-length must be positive")
        }
    }

    func run() async throws {
        HugePages.requestForTheHeap()
        for (flag, value) in [("--port", port), ("--admin-port", adminPort)] {
            guard let value, portInUse(host: host, port: value) else { continue }
            writeStandardError(
                "stowage: port \(value) is in use on \(host) (another server there?); choose another with \(flag), or 0 for a free one\n"
            )
            throw ExitCode(2)
        }
        var logger = Logger(label: "stowage") { LineLogHandler(label: $0) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let location: StorageLocation = ephemeral || replay != nil ? .memory : .directory(dataDir)
        var engine = EngineConfiguration(
            location: location, fsync: fsync, snapshotEvery: snapshotEvery ?? 10_000,
            snapshotBudget: snapshotEvery == nil ? 5e-6 : nil)
        if let replay { engine.replaying = try Self.loadRecording(replay, limit: maxImportBytes) }
        let store: RegistryStore
        do {
            store = try RegistryStore(configuration: engine, logger: logger)
        } catch {
            let place = replay.map { "the recording \($0)" } ?? "the registry in \(dataDir)"
            writeStandardError("stowage: cannot open \(place):\n\(error)\n")
            throw ExitCode(2)
        }
        if replay == nil { try await applySwitches(store) }
        if !fixtures.isEmpty {
            do { try await Fixtures.load(fixtures, into: store, limit: maxImportBytes) } catch {
                writeStandardError("stowage: \(error)\n")
                throw ExitCode(2)
            }
        }
        if let at {
            do {
                guard let point = try await store.point(named: at) else {
                    throw ValidationError(
                        "--at takes a checkpoint name, a record number or an RFC 3339 time, not '\(at)'")
                }
                try await store.show(point.sequence)
            } catch let error as ValidationError {
                throw error
            } catch {
                writeStandardError("stowage: --at \(at): \(error)\n")
                throw ExitCode(2)
            }
        }
        let recovery = store.recovery
        logger.info(
            "registry open: \(replay.map { "replaying \($0)" } ?? (ephemeral ? "in memory" : dataDir)), sequence \(store.sequence), snapshot \(recovery.snapshotSequence), replayed \(recovery.replayed) records"
        )
        HeapTrimmer.start(logger: logger)
        var configuration = ServerConfiguration(
            host: host, port: port, auth: auth, createOnPush: createOnPush,
            garbageCollectionInterval: .milliseconds(Int64(gcInterval * 1000)), adminToken: adminToken,
            maxImportBytes: maxImportBytes,
            accounts: Dictionary(
                accountsForKeys.map { entry in
                    let parts = entry.split(separator: "=", maxSplits: 1)
                    return (String(parts[0]), AccountID(String(parts[1]))!)
                }
            ) { _, last in last },
            adminPort: adminPort)
        configuration.sparseManifests = sparseManifests
        configuration.uploadTimeout = .milliseconds(parseDuration(uploadTimeout) ?? 86_400_000)
        configuration.chunkMinLength = chunkMinLength
        configuration.profile = profile
        configuration.registryHost = registryHost
        let host = self.host
        let auth = self.auth
        let secret: [UInt8]
        do { secret = try ServerSecret.load(location) } catch {
            writeStandardError("stowage: cannot read or create the token secret in \(dataDir): \(error)\n")
            throw ExitCode(2)
        }
        let separateAdmin = adminPort != nil
        // The login line works as printed: it names the server whose /_admin answers (unless that is
        // the default), so with --admin-port it waits for both listeners, whichever is up last.
        let ports = Mutex<(main: Int?, admin: Int?)>((nil, nil))
        let loginLine: @Sendable (Int?, Int?) -> String? = { port, adminPort in
            guard auth == .ecr, let port, let asked = separateAdmin ? adminPort : port else { return nil }
            let host = reachableHost(host)
            let ask = "\(host):\(asked)" == "127.0.0.1:5000" ? "" : " --server \(host):\(asked)"
            return "log in: stowage login-password\(ask) | docker login --username AWS --password-stdin \(host):\(port)"
        }
        let applications = buildApplications(
            configuration: configuration, store: store, secret: secret, logger: logger,
            onServerRunning: { port in
                let admin = ports.withLock { ports in
                    ports.main = port
                    return ports.admin
                }
                var lines = ["Stowage serving on http://\(host):\(port)"]
                if let replay, let recording = store.configuration.replaying {
                    lines.append(
                        "replaying \(replay), read-only: records \(recording.baseSequence + 1)...\(recording.lastSequence), showing record \(store.sequence) (stowage replay <point> moves it; the page: /_admin/ui/)"
                    )
                }
                if auth == .none {
                    lines.append("authentication is off (--auth none): push and pull without logging in")
                }
                if let login = loginLine(port, admin) { lines.append(login) }
                writeStandardOutput((lines.joined(separator: "\n") + "\n"))
            },
            onAdminRunning: { adminPort in
                let main = ports.withLock { ports in
                    ports.admin = adminPort
                    return ports.main
                }
                var lines = ["Admin API on http://\(host):\(adminPort)/_admin"]
                if let login = loginLine(main, adminPort) { lines.append(login) }
                writeStandardOutput((lines.joined(separator: "\n") + "\n"))
            })
        let services = ServiceGroup(
            configuration: .init(
                services: applications.map { $0 }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await services.run() } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // Taken between the check above and the bind.
            writeStandardError(
                "stowage: a port is in use on \(host) (--port \(port)\(adminPort.map { ", --admin-port \($0)" } ?? ""))\n"
            )
            await store.quiesce()
            throw ExitCode(2)
        }
        if let snapshot = await store.snapshotAtStop() {
            logger.info(
                "snapshot at \(snapshot.sequence) written at the stop (\(snapshot.unitsCopied) units of repositories copied, \(snapshot.unitsWritten) written, \(Int(snapshot.seconds * 1000)) ms)"
            )
        }
        logger.info("stopped")
        // The log is synced and no snapshot is in progress: what is left is freeing the state,
        // which at a million images took 2.6 s of a stop and changes nothing on disk.
        Glibc.exit(0)
    }
}

extension Serve {
    /// The switches the flags name, logged as one `configure` when they change what the registry
    /// has (a data directory keeps the switches of its last run otherwise).
    func applySwitches(_ store: RegistryStore) async throws {
        let referrers = self.referrers
        let deletes = self.deletes
        let warning = self.warning
        let rateLimit = self.rateLimit
        let chunkMinLength = self.chunkMinLength
        let given = !referrers || !deletes || warning != nil || rateLimit != nil || chunkMinLength != nil
        guard given else { return }
        try await store.submit(scope: .default) { state in
            var switches = state.switches ?? Switches()
            switches.referrers = referrers
            switches.deletes = deletes
            if let warning { switches.warning = warning }
            if let rateLimit { switches.rateLimit = rateLimit }
            if let chunkMinLength { switches.chunkMinLength = chunkMinLength }
            return switches == (state.switches ?? Switches()) ? [] : [.configure(switches)]
        }
    }

    /// A recording, validated completely (as an import is), or exit 2 saying why not.
    static func loadRecording(_ path: String, limit: Int) throws -> Recording {
        guard let data = FileManager.default.contents(atPath: path) else {
            writeStandardError("stowage: cannot read the recording \(path)\n")
            throw ExitCode(2)
        }
        do {
            return try RecordingFormat.decode(
                Array(data), limit: limit.multipliedReportingOverflow(by: 4).partialValue)
        } catch {
            writeStandardError("stowage: \(path) is refused: \(error)\n")
            throw ExitCode(2)
        }
    }
}

extension AuthMode: ExpressibleByArgument {}
extension Profile: ExpressibleByArgument {}
extension FsyncPolicy: ExpressibleByArgument {}

/// The value of an environment variable, if set and not empty.
func env(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// Whether a boolean environment variable is set to 1, true or yes.
func envFlag(_ name: String) -> Bool {
    ["1", "true", "yes"].contains(env(name)?.lowercased() ?? "")
}
