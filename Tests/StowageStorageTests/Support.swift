import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport

@testable import StowageStorage

/// A temporary directory, removed when the test is done with it.
final class TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A fresh copy of this directory's contents (to break files without touching the original).
    func copy() -> TemporaryDirectory {
        let copy = TemporaryDirectory()
        try! FileManager.default.removeItem(atPath: copy.path)
        try! FileManager.default.copyItem(atPath: path, toPath: copy.path)
        return copy
    }
}

enum EngineFixture {
    /// An engine on `location`. Tests reopen a directory while the first engine still lives (a
    /// restart, but for the process), so the directory lock is off unless asked for.
    static func open(
        _ location: StorageLocation, snapshotEvery: UInt64 = 1_000_000, fsync: FsyncPolicy = .never,
        locking: Bool = false, snapshotsKept: Int = 2
    ) throws -> RegistryStore {
        var configuration = EngineConfiguration(
            location: location, fsync: fsync, snapshotEvery: snapshotEvery, snapshotsKept: snapshotsKept)
        configuration.locksDirectory = locking
        return try RegistryStore(configuration: configuration, clock: ManualClock())
    }

    /// Submits `count` generated commands; returns the expected state after each record
    /// (index i is the state after record i + 1), refused ones included.
    @discardableResult
    static func drive(_ store: RegistryStore, seed: UInt64, count: Int) async throws -> [RegistryState] {
        var generator = CommandGenerator(seed: seed)
        var states: [RegistryState] = []
        for _ in 0..<count {
            let (scope, command) = generator.next(for: store.state)
            do {
                try await store.submit(command, scope: scope)
                // The bytes the log counts are in the spool, as an ingest leaves them: recovery checks.
                switch command {
                case .startUpload(let id, _): try store.content.createSpool(id)
                case .appendChunk(let id, _, let offset, let length):
                    let bytes = [UInt8](repeating: 0x5A, count: Int(length))
                    try bytes.withUnsafeBytes { try store.content.openSpool(id).write($0, at: offset) }
                default: break
                }
            } catch is RegistryError {}
            states.append(store.state)
        }
        return states
    }

    static func flip(byteAt offset: Int, in path: String) throws {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func truncate(_ path: String, to size: Int) {
        precondition(Foundation.truncate(path, off_t(size)) == 0)
    }

    static func segments(_ directory: TemporaryDirectory) -> [String] {
        POSIX.list(directory.path + "/wal").filter { $0.hasSuffix(".wal") }.map { directory.path + "/wal/" + $0 }
    }

    /// The start offsets of the records in a segment file.
    static func recordOffsets(_ path: String) throws -> [Int] {
        RecordFraming.scan(try POSIX.readFile(path)).frames.map(\.offset)
    }

    /// Where a segment file's records end (the zeros the log writes ahead of them follow).
    static func recordsEnd(_ path: String) throws -> Int {
        RecordFraming.scan(try POSIX.readFile(path)).validEnd
    }

    /// Overwrites a file's bytes from `offset` to its end with zeros: an append into the space
    /// written ahead of the records, cut short by a crash.
    static func zero(_ path: String, from offset: Int) throws {
        var bytes = try POSIX.readFile(path)
        for i in offset..<bytes.count { bytes[i] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
