import ArgumentParser
import FoundationEssentials
import StowageCore
import StowageStorage

/// `stowage inspect PATH`: what a snapshot, export file, log segment or data directory holds,
/// and whether its checksums hold. Offline: no server needed.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Show what a snapshot, export file, recording, log segment or data directory holds, and whether its checksums hold."
    )
    @Argument(help: "A .snap, export or recording file, a .wal segment, or a data directory.") var path: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            fail("\(path) does not exist")
        }
        var report: [String: Any] = ["path": path]
        var healthy = true
        if isDirectory {
            report["kind"] = "data directory"
            var snapshots: [[String: Any]] = []
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path + "/snap")) ?? []
            where name.hasSuffix(".snap") {
                let entry = describeFile(path + "/snap/" + name)
                healthy = healthy && (entry["valid"] as? Bool ?? false)
                snapshots.append(entry)
            }
            report["snapshots"] = snapshots.sorted { "\($0["path"] ?? "")" < "\($1["path"] ?? "")" }
            var segments: [[String: Any]] = []
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: path + "/wal")) ?? []).sorted()
            where name.hasSuffix(".wal") {
                let entry = describeFile(path + "/wal/" + name)
                healthy = healthy && (entry["valid"] as? Bool ?? false)
                segments.append(entry)
            }
            report["segments"] = segments
            let blobs =
                ((try? FileManager.default.subpathsOfDirectory(atPath: path + "/blobs")) ?? [])
                .filter { $0.split(separator: "/").count == 3 }
            report["blobs"] = blobs.count
            report["uploads"] = ((try? FileManager.default.contentsOfDirectory(atPath: path + "/uploads")) ?? []).count
        } else {
            report = describeFile(path)
            healthy = report["valid"] as? Bool ?? false
        }
        report["checksumsHold"] = healthy
        if json {
            print(JSON.pretty(JSON.value(of: report)))
        } else {
            print(render(report))
        }
        if !healthy { throw ExitCode(1) }
    }

    func describeFile(_ file: String) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: file) else {
            return ["path": file, "valid": false, "problem": "unreadable"]
        }
        let bytes = Array(data)
        var entry: [String: Any] = ["path": file, "bytes": bytes.count]
        if bytes.starts(with: SnapshotFormat.magic) {
            entry["kind"] = "snapshot"
            do {
                let header = try SnapshotFormat.header(bytes)
                entry["format"] = Int(header.version)
                entry["zlibStreams"] = header.segments.count
                let (sequence, state) = try SnapshotFormat.decode(bytes)
                entry["sequence"] = sequence
                entry.merge(counts(state)) { a, _ in a }
                entry["valid"] = true
            } catch { entry["valid"] = false; entry["problem"] = "\(error)" }
        } else if bytes.starts(with: ExportFormat.magic) {
            entry["kind"] = "export"
            do {
                let contents = try ExportFormat.decode(bytes, limit: Int.max / 2)
                entry.merge(counts(contents.state)) { a, _ in a }
                entry["blobsIncluded"] = contents.includesBlobs
                entry["valid"] = true
            } catch { entry["valid"] = false; entry["problem"] = "\(error)" }
        } else if bytes.starts(with: RecordingFormat.magic) {
            entry["kind"] = "recording"
            do {
                let recording = try RecordingFormat.decode(bytes, limit: Int.max / 2)
                entry["firstSequence"] = recording.baseSequence + 1
                entry["lastSequence"] = recording.lastSequence
                entry["records"] = recording.records.count
                entry["refused"] = recording.records.count { $0.refusal != nil }
                entry["blobs"] = recording.blobs.count
                var end = recording.base
                for record in recording.records where record.refusal == nil {
                    try end.apply(record.envelope) { recording.points[$0] }
                }
                entry.merge(counts(end)) { a, _ in a }
                entry["valid"] = true
            } catch { entry["valid"] = false; entry["problem"] = "\(error)" }
        } else if file.hasSuffix(".wal") {
            entry["kind"] = "log segment"
            let scan = LogInspection.scan(bytes)
            entry["records"] = scan.records
            entry["recordBytes"] = scan.recordBytes
            if let first = scan.first { entry["firstSequence"] = first }
            if let last = scan.last { entry["lastSequence"] = last }
            entry["valid"] = scan.problem == nil
            if let problem = scan.problem { entry["problem"] = problem }
        } else {
            entry["valid"] = false
            entry["problem"] = "not a Stowage snapshot, export file, recording or log segment"
        }
        return entry
    }

    func counts(_ state: RegistryState) -> [String: Any] {
        let c = state.counts
        return [
            "repositories": c.repositories, "images": c.images, "tags": c.tags, "blobLinks": c.blobLinks,
            "uploads": c.uploads,
            "accountRegions": state.scopes.count, "checkpoints": state.checkpoints.count,
        ]
    }

    func render(_ report: [String: Any], indent: String = "") -> String {
        var lines: [String] = []
        for key in report.keys.sorted() {
            if let list = report[key] as? [[String: Any]] {
                lines.append("\(indent)\(key):")
                for item in list { lines.append(render(item, indent: indent + "  ")); lines.append("") }
            } else {
                lines.append("\(indent)\(key): \(report[key] ?? "")")
            }
        }
        return lines.joined(separator: "\n")
    }
}
