import Foundation
import StowageCore
import StowageStorage

/// Measures the engine alone (no HTTP): the cost of one command as the registry grows, group
/// commit under fsync, and restart time against log length. Prints a table; never asserts.
@main
struct EngineBenchmark {
    static func main() async throws {
        // As the server does, so the scale rows' heap is as the server's would be.
        HugePages.requestForTheHeap()
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "load":
            try LoadGenerator(arguments: arguments).run()
            return
        case "seed":
            try await seed(arguments)
            return
        case "empty":
            try await EmptyServer.run(arguments)
            return
        case "limit-push":
            try PushLimit.run(arguments)
            return
        case "codec":
            // `stowage-bench codec [N]`: the snapshot codec's parts, on a state of N images.
            try codec(images: arguments.dropFirst().first.flatMap { Int($0) } ?? 200_000)
            return
        case "tags":
            // `stowage-bench tags [N]`: only the heap per tag.
            try tagMemory(tags: arguments.dropFirst().first.flatMap { Int($0) } ?? 125_000)
            return
        case "scale":
            // `stowage-bench scale [N]`: only the scale rows.
            let images = arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000_000
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-bench-\(getpid())")
                .path
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try await scale(scratch: scratch + "/scale", images: images)
            return
        default: break
        }
        let quick = arguments.contains("--quick")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print("metric | value")
        print("--- | ---")
        // First, while nothing else in the process allocates or frees (an earlier benchmark's stores
        // still free memory in the background, which read as a negative cost per tag).
        try tagMemory(tags: quick ? 20_000 : 125_000)
        try await commandCost(scratch: scratch + "/cost", sizes: quick ? [100, 10_000] : [100, 100_000])
        try await groupCommit(scratch: scratch + "/fsync", writes: quick ? 500 : 2_000)
        for size in [100, 10_000] {
            try await resetAndRewind(images: size)
        }
        try await fixture(images: 100)
        try await scale(scratch: scratch + "/scale", images: quick ? 100_000 : 1_000_000)
        // `make bench` measures restarts at the server instead (time to the first answer).
        if !arguments.contains("--no-restart") {
            for count in quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000] {
                try await restart(scratch: scratch + "/restart-\(count)", commands: count)
            }
        }
    }

    static let repositories = (0..<10).map { RepositoryName("bench/repo\($0)")! }
    /// The scale rows spread their images over this many repositories.
    static let scaleRepositories = (0..<1_000).map { RepositoryName("scale/repo\($0)")! }

    static func digest(_ n: Int, _ kind: String) -> Digest {
        let hex = String(n, radix: 16)
        return Digest("sha256:" + kind + String(repeating: "0", count: 64 - hex.count - kind.count) + hex)!
    }

    /// Two commands per image: link its layer, put its manifest with a tag.
    static func image(_ n: Int, in repositories: [RepositoryName] = repositories) -> [Command] {
        let repository = repositories[n % repositories.count]
        let layer = digest(n, "a")
        let content = #"{"schemaVersion":2,"layers":[{"digest":"\#(layer)","size":1024}],"n":\#(n)}"#
        let manifest = Manifest(
            digest: digest(n, "b"), mediaType: "application/vnd.oci.image.manifest.v1+json", content: content,
            references: ManifestReferences(layers: [
                Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer, size: 1024)
            ]))
        return [
            .putBlob(repository: repository, digest: layer, size: 1024),
            .putManifest(repository: repository, manifest: manifest, tag: Tag("t\(n)")!),
        ]
    }

    /// An engine as `stowage serve` runs it by default (adaptive snapshot spacing).
    static func open(_ path: String, fsync: FsyncPolicy = .never) throws -> RegistryStore {
        try RegistryStore(
            configuration: EngineConfiguration(location: .directory(path), fsync: fsync, snapshotBudget: 5e-6),
            clock: ManualClock())
    }

    static func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The process's CPU time (every thread), in seconds.
    static func cpu() -> Double { Double(ProcessUsage.cpuNanoseconds()) / 1e9 }

    /// CPU µs per command (logged, not fsynced) when the registry already holds `size` images,
    /// with the snapshots it causes spread over the records between two of them — what a long
    /// run of writes costs per command. Measured as CPU time, which a noisy machine disturbs
    /// far less than wall time.
    static func commandCost(scratch: String, sizes: [Int]) async throws {
        for size in sizes {
            let store = try open(scratch + "-\(size)")
            for repository in repositories {
                try await store.submit(.createRepository(name: repository, settings: .init()))
            }
            for n in 0..<size { for command in image(n) { try await store.submit(command) } }
            await store.quiesce()
            _ = try await store.compact()
            let measured = 2_000  // images: 4,000 commands, fewer than any snapshot interval
            let start = cpu()
            for n in size..<(size + measured) { for command in image(n) { try await store.submit(command) } }
            let perCommand = (cpu() - start) / Double(measured * 2)
            // The snapshot of what they changed: they went into every repository, so it copies
            // nothing of the one before (the worst case for its cost).
            let before = cpu()
            let snapshot = try await store.compact()
            let snapshotCPU = cpu() - before
            let interval = await store.snapshotInterval
            let amortised = perCommand + snapshotCPU / Double(interval)
            print(
                "command CPU at \(size) images (µs, snapshots amortised) | \(String(format: "%.1f", amortised * 1e6))")
            print(
                "snapshot at \(size) images (ms CPU; \(snapshot.bytes) bytes; one every \(interval) records) | \(String(format: "%.1f", snapshotCPU * 1000))"
            )
            await store.quiesce()
        }
    }

    /// Server time of a reset and of a rewind to a checkpoint, with `images` images stored
    /// (the median of many, each after one more push).
    static func resetAndRewind(images: Int) async throws {
        let store = try RegistryStore(
            configuration: EngineConfiguration(location: .memory, fsync: .never), clock: ManualClock())
        for repository in repositories {
            try await store.submit(.createRepository(name: repository, settings: .init()))
        }
        for n in 0..<images { for command in image(n) { try await store.submit(command) } }
        try await store.submit(.checkpoint(name: CheckpointName("base")!))
        var rewinds: [Double] = []
        var resets: [Double] = []
        for n in 0..<100 {
            for command in image(images + n) { try await store.submit(command) }
            rewinds.append(try await seconds { try await store.rewind(to: .checkpoint(CheckpointName("base")!)) })
        }
        for _ in 0..<20 {
            resets.append(try await seconds { try await store.submit(.reset(extent: .everything)) })
            try await store.rewind(to: .checkpoint(CheckpointName("base")!))
        }
        func median(_ values: [Double]) -> String { String(format: "%.3f", values.sorted()[values.count / 2] * 1000) }
        print("rewind to a checkpoint at \(images) images (ms, median) | \(median(rewinds))")
        print("reset at \(images) images (ms, median) | \(median(resets))")
    }

    /// A registry of `images` tiny images over 1,000 repositories, seeded through the engine: memory per
    /// stored image, one command's cost, the snapshot, a reset and a rewind, and a restart.
    static func scale(scratch: String, images: Int) async throws {
        let baseline = residentBytes()
        var store: RegistryStore? = try open(scratch)
        for repository in scaleRepositories {
            try await store!.submit(.createRepository(name: repository, settings: .init()))
        }
        var manifestBytes = 0
        for n in 0..<images {
            for command in image(n, in: scaleRepositories) {
                if case .putManifest(_, let manifest, _, _) = command { manifestBytes += manifest.content.utf8.count }
                try await store!.submit(command)
            }
        }
        await store!.quiesce()
        _ = try await store!.compact()
        let perImage = Double(residentBytes() - baseline - manifestBytes) / Double(images)
        print("resident memory per stored image at \(images) images (bytes beyond its manifest) | \(Int(perImage))")
        let start = cpu()
        for n in images..<(images + 2_000) {
            for command in image(n, in: scaleRepositories) { try await store!.submit(command) }
        }
        let commandsCPU = cpu() - start
        // The snapshot of 2,000 images spread over every repository: nothing of the last copied.
        var before = cpu()
        let snapshot = try await store!.compact()
        let snapshotCPU = cpu() - before
        print(
            "snapshot at \(images) images (s CPU; \(snapshot.bytes / 1_048_576) MiB; \(snapshot.unitsCopied) units copied, \(snapshot.unitsWritten) written) | \(String(format: "%.2f", snapshotCPU))"
        )
        let interval = await store!.snapshotInterval
        let perCommand = commandsCPU / 4_000 + snapshotCPU / Double(interval)
        print("command CPU at \(images) images (µs, snapshots amortised) | \(String(format: "%.1f", perCommand * 1e6))")
        // The snapshot after one push into one repository: the rest copied from the one before.
        for command in image(images + 2_000, in: [scaleRepositories[0]]) { try await store!.submit(command) }
        before = cpu()
        let small = try await store!.compact()
        print(
            "snapshot at \(images) images after one push (ms CPU; \(small.unitsCopied) units copied, \(small.unitsWritten) written) | \(String(format: "%.1f", (cpu() - before) * 1000))"
        )
        await store!.quiesce()
        store = nil
        let restart = try await seconds { store = try open(scratch) }
        print("restart with \(images) images (s; from the snapshot) | \(String(format: "%.2f", restart))")
        try await store!.submit(.checkpoint(name: CheckpointName("base")!))
        var rewinds: [Double] = []
        var resets: [Double] = []
        for n in 0..<20 {
            for command in image(images + 2_000 + n, in: scaleRepositories) { try await store!.submit(command) }
            rewinds.append(try await seconds { try await store!.rewind(to: .checkpoint(CheckpointName("base")!)) })
        }
        for _ in 0..<10 {
            resets.append(try await seconds { try await store!.submit(.reset(extent: .everything)) })
            try await store!.rewind(to: .checkpoint(CheckpointName("base")!))
        }
        func median(_ values: [Double]) -> String { String(format: "%.3f", values.sorted()[values.count / 2] * 1000) }
        print("rewind to a checkpoint at \(images) images (ms, median) | \(median(rewinds))")
        print("reset at \(images) images (ms, median) | \(median(resets))")
        await store!.quiesce()
    }

    /// Heap per tag in the state, `tags` tags on one image (as `make bench`'s PUT manifest
    /// rows leave them): the repository's tag table and the image's own set of its tags.
    static func tagMemory(tags: Int) throws {
        var folded = Folded()
        func apply(_ command: Command) throws { try folded.apply(command) }
        try apply(.createRepository(name: repositories[0], settings: .init()))
        for command in image(0) { try apply(command) }
        let before = ProcessUsage.heapBytesInUse()
        let target = digest(0, "b")
        for n in 0..<tags { try apply(.tagImage(repository: repositories[0], tag: Tag("p\(n)")!, digest: target)) }
        let perTag = Double(ProcessUsage.heapBytesInUse() - before) / Double(tags)
        print("heap per tag, \(tags) tags on one image (bytes) | \(Int(perTag))")
        withExtendedLifetime(folded) {}
    }

    /// The parts of a snapshot's cost, on a state of `images` images folded in memory: writing
    /// the text, deflating it, inflating it and reading it back.
    static func codec(images: Int) throws {
        var folded = Folded()
        func apply(_ command: Command) throws { try folded.apply(command) }
        for repository in scaleRepositories { try apply(.createRepository(name: repository, settings: .init())) }
        let folding = cpu()
        for n in 0..<images { for command in image(n, in: scaleRepositories) { try apply(command) } }
        print(
            "fold \(images) images in the reducer (µs CPU per command) | \(String(format: "%.2f", (cpu() - folding) / Double(2 * images) * 1e6))"
        )
        func timed<T>(_ what: String, _ body: () throws -> T) rethrows -> T {
            let (start, clock) = (cpu(), ContinuousClock.now)
            let value = try body()
            let wall = (ContinuousClock.now - clock) / .seconds(1)
            print("\(what) (s CPU / s wall) | \(String(format: "%.3f / %.3f", cpu() - start, wall))")
            return value
        }
        let text = try timed("write \(images) images as text") { try StateCodec.encodeState(folded.state) }
        let snapshot = try timed("snapshot (text written and deflated)") {
            try SnapshotFormat.encode(folded.state, sequence: folded.sequence)
        }
        print("text / snapshot (MiB) | \(text.count >> 20) / \(snapshot.count >> 20)")
        let inflated = try timed("inflate the whole text") { try SnapshotFormat.text(snapshot) }
        precondition(inflated == text)
        // Best of three: a shared machine's noise is only ever added.
        func fastest(_ what: String, _ body: () throws -> RegistryState) rethrows {
            var fastest = (cpu: Double.infinity, wall: Double.infinity)
            for _ in 0..<3 {
                let (start, clock) = (cpu(), ContinuousClock.now)
                let read = try body()
                fastest = (
                    min(fastest.cpu, cpu() - start), min(fastest.wall, (ContinuousClock.now - clock) / .seconds(1))
                )
                precondition(read == folded.state)
            }
            print("\(what), best of 3 (s CPU / s wall) | \(String(format: "%.3f / %.3f", fastest.cpu, fastest.wall))")
        }
        try fastest("read the whole text") { try StateCodec.decodeState(inflated) }
        try fastest("decode the snapshot as a restart does (each unit inflated and read on a core)") {
            try SnapshotFormat.decode(snapshot).state
        }
    }

    /// This process's resident memory, in bytes.
    static func residentBytes() -> Int { ProcessUsage.residentBytes() ?? 0 }

    /// Export and import of a fixture of `images` images with 4 KiB layers (encode, decode and
    /// validate every blob, store, restore).
    static func fixture(images: Int) async throws {
        let store = try RegistryStore(
            configuration: EngineConfiguration(location: .memory, fsync: .never), clock: ManualClock())
        for repository in repositories {
            try await store.submit(.createRepository(name: repository, settings: .init()))
        }
        var blobs: [Digest: [UInt8]] = [:]
        for n in 0..<images {
            let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* (n + 1)) }
            let digest = ContentDigester.digest(bytes)
            blobs[digest] = bytes
            let repository = repositories[n % repositories.count]
            try await store.submit(.putBlob(repository: repository, digest: digest, size: 4096))
            let content = #"{"schemaVersion":2,"layers":[{"digest":"\#(digest)","size":4096}]}"#
            let manifest = Manifest(
                digest: ContentDigester.digest(Array(content.utf8)),
                mediaType: "application/vnd.oci.image.manifest.v1+json", content: content,
                references: ManifestReferences(layers: [
                    Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar", digest: digest, size: 4096)
                ]))
            try await store.submit(.putManifest(repository: repository, manifest: manifest, tag: Tag("v\(n)")!))
        }
        var file: [UInt8] = []
        let exportTime = try await seconds { file = try ExportFormat.encode(store.state, blobs: blobs) }
        let target = try RegistryStore(
            configuration: EngineConfiguration(location: .memory, fsync: .never), clock: ManualClock())
        let importTime = try await seconds {
            let contents = try ExportFormat.decode(file, limit: 1 << 30)
            for (digest, bytes) in contents.blobs { try target.content.writeBlob(digest, bytes) }
            try await target.restore(imported: contents.state, bytes: Int64(file.count))
        }
        print(
            "export of a \(images)-image fixture (ms; \(file.count) bytes) | \(String(format: "%.1f", exportTime * 1000))"
        )
        print("import of a \(images)-image fixture (ms) | \(String(format: "%.1f", importTime * 1000))")
    }

    /// Writes per second with fsync=always, one writer and then 32 at once (group commit).
    static func groupCommit(scratch: String, writes: Int) async throws {
        for writers in [1, 32] {
            let store = try open(scratch + "-\(writers)", fsync: .always)
            let elapsed = try await seconds {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for w in 0..<writers {
                        group.addTask {
                            for i in stride(from: w, to: writes, by: writers) {
                                try await store.submit(
                                    .createRepository(name: RepositoryName("g/r\(i)")!, settings: .init()))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            print("fsync=always writes/s, \(writers) writer(s) | \(Int(Double(writes) / elapsed))")
        }
    }

    /// Restart time (snapshot + log tail) after `commands` logged commands of steady churn:
    /// uploads in 3 records each and manifests that move a tag, on a registry of bounded size.
    static func restart(scratch: String, commands: Int) async throws {
        try await churn(scratch, commands: commands)
        var store: RegistryStore?
        let elapsed = try await seconds { store = try open(scratch) }
        let r = store!.recovery
        print(
            "restart after \(commands) commands (s; snapshot at \(r.snapshotSequence), \(r.replayed) replayed) | \(String(format: "%.3f", elapsed))"
        )
    }

    /// Logs `commands` commands of steady churn into a data directory: uploads in 3 records each
    /// and manifests that move a tag, on a registry of bounded size.
    static func churn(_ directory: String, commands: Int) async throws {
        let store = try open(directory)
        for repository in repositories {
            try await store.submit(.createRepository(name: repository, settings: .init()))
        }
        var n = 0
        var written = repositories.count
        while written < commands {
            let repository = repositories[n % repositories.count]
            let id = UploadID("u\(n)")!
            let d = digest(n % 5_000, "c")
            try await store.submit(.startUpload(id: id, repository: repository))
            try await store.submit(.appendChunk(upload: id, repository: repository, offset: 0, length: 1024))
            try await store.submit(
                .commitUpload(upload: id, repository: repository, claimed: d, computed: d, size: 1024))
            for command in image(n % 5_000) { try await store.submit(command) }
            written += 5
            n += 1
        }
        await store.quiesce()
    }

    /// `stowage-bench seed --dir D (--images N | --churn N | --tail N)`: a data directory for
    /// `stowage serve` holding N images over 1,000 repositories (state only: their blobs are linked,
    /// not stored), or N churn commands; or, `--tail`, N more images logged into D's seeded
    /// repositories after its last snapshot and no snapshot after them: what a restart replays when
    /// the server stopped just before its next snapshot.
    static func seed(_ arguments: [String]) async throws {
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
        guard let directory = value("--dir") else {
            throw LoadGenerator.Usage("usage: stowage-bench seed --dir D (--images N | --churn N | --tail N)")
        }
        if let commands = value("--churn").flatMap(Int.init) {
            try await churn(directory, commands: commands)
            return
        }
        if let tail = value("--tail").flatMap(Int.init) {
            let store = try RegistryStore(
                configuration: EngineConfiguration(
                    location: .directory(directory), fsync: .never, snapshotEvery: .max / 2),
                clock: ManualClock())
            // Numbered past any seeded image, so each is a new one.
            for n in 0..<tail {
                for command in image(100_000_000 + n, in: scaleRepositories) { try await store.submit(command) }
            }
            await store.quiesce()
            return
        }
        let images = value("--images").flatMap(Int.init) ?? 0
        let store = try open(directory)
        for repository in scaleRepositories {
            try await store.submit(.createRepository(name: repository, settings: .init()))
        }
        for n in 0..<images { for command in image(n, in: scaleRepositories) { try await store.submit(command) } }
        await store.quiesce()
        // A snapshot of the end, so a server started on it reads the snapshot instead of
        // replaying the seeding (a million images: 54 s of replay).
        _ = try await store.compact()
    }
}

/// A state folded in memory by the reducer alone, one command after another.
struct Folded {
    var state = RegistryState()
    var sequence: UInt64 = 0

    mutating func apply(_ command: Command) throws {
        sequence += 1
        try state.apply(
            Envelope(sequence: sequence, time: Timestamp(millisecondsSinceEpoch: Int64(sequence)), command: command))
    }
}
