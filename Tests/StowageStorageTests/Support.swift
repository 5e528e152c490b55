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
    static func open(_ location: StorageLocation, snapshotEvery: UInt64 = 1_000_000, fsync: FsyncPolicy = .never) throws
        -> RegistryStore
    {
        try RegistryStore(
            configuration: EngineConfiguration(location: location, fsync: fsync, snapshotEvery: snapshotEvery),
            clock: ManualClock())
    }

    /// Submits `count` generated commands; returns the expected state after each record
    /// (index i is the state after record i + 1), refused ones included.
    @discardableResult
    static func drive(_ store: RegistryStore, seed: UInt64, count: Int) async throws -> [RegistryState] {
        var generator = CommandGenerator(seed: seed)
        var states: [RegistryState] = []
        for _ in 0..<count {
            let (scope, command) = generator.next(for: store.state)
            do { try await store.submit(command, scope: scope) } catch is RegistryError {}
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
}
