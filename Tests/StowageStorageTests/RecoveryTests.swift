import Foundation
import HashTreeCollections
import StowageCore
import StowageTestSupport
import Testing

@testable import StowageStorage

/// Breaking log files on purpose, and checking exactly what survives.
struct RecoveryTests {
    @Test func replayingTheLogRebuildsExactlyTheStateThatWasFolded() async throws {
        let directory = TemporaryDirectory()
        let expected: RegistryState
        let sequence: UInt64
        do {
            let store = try EngineFixture.open(.directory(directory.path))
            expected = try await EngineFixture.drive(store, seed: 11, count: 400).last!
            sequence = store.sequence
        }
        let reopened = try EngineFixture.open(.directory(directory.path))
        #expect(reopened.state == expected)
        // 400 commands, and the scans on push that followed some of them.
        #expect(reopened.sequence == sequence && sequence >= 400)
        #expect(reopened.recovery.replayed > 100)
    }

    /// Replay decodes the next batch of records on a second core while it applies one: the
    /// records still arrive in order, one that does not decode in its place, and nothing after a
    /// record whose application fails.
    @Test(arguments: [1, 7, 100, Recovery.replayBatch])
    func replayTakesRecordsInOrderWhileTheNextBatchIsDecoded(batch: Int) throws {
        var payloads: [ArraySlice<UInt8>] = []
        for sequence in UInt64(1)...100 {
            let envelope = Envelope(
                sequence: sequence, time: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000), scope: .default,
                command: .checkpoint(name: CheckpointName("c\(sequence)")!))
            payloads.append(ArraySlice(try StateCodec.encodeRecord(LogRecord(envelope: envelope))))
        }
        payloads[56] = ArraySlice("{\"sequence\":".utf8)
        var seen: [UInt64?] = []
        try Recovery.forEachRecord(in: payloads, batch: batch) { seen.append(try? $0.get().sequence) }
        #expect(seen == (1...100).map { $0 == 57 ? nil : UInt64($0) })

        struct Stop: Error {}
        var taken = 0
        #expect(throws: Stop.self) {
            try Recovery.forEachRecord(in: payloads, batch: batch) { record in
                taken += 1
                if try record.get().sequence == 30 { throw Stop() }
            }
        }
        #expect(taken == 30)
    }

    @Test func theLogCutAtEveryByteOfItsLastRecordRecoversTheLongestValidPrefix() async throws {
        let directory = TemporaryDirectory()
        let states: [RegistryState]
        do {
            let store = try EngineFixture.open(.directory(directory.path))
            states = try await EngineFixture.drive(store, seed: 5, count: 30)
            // Checkpoints' points are written in the background: done before the files are copied.
            await store.quiesce()
        }
        let segment = EngineFixture.segments(directory).last!
        let size = try EngineFixture.recordsEnd(segment)
        // The log writes zeros ahead of its records: the file goes on past them.
        #expect(Int(POSIX.fileSize(segment)!) > size)
        let lastStart = try EngineFixture.recordOffsets(segment).last!
        #expect(size - lastStart > 50)
        // A crash cuts the file short (an append past the zeros), or leaves the rest of the
        // record as the zeros it was written over.
        for (cut, zeroed) in (lastStart..<size).flatMap({ [($0, false), ($0, true)] }) {
            let copy = directory.copy()
            let path = EngineFixture.segments(copy).last!
            if zeroed { try EngineFixture.zero(path, from: cut) } else { EngineFixture.truncate(path, to: cut) }
            let store = try EngineFixture.open(.directory(copy.path))
            #expect(store.state == states[28], "cut at \(cut)")
            #expect(store.sequence == 29)
            #expect(FileManager.default.fileExists(atPath: path + ".broken") == (cut > lastStart), "cut at \(cut)")
            #expect(try EngineFixture.recordsEnd(path) == lastStart)
            if cut > lastStart { #expect(POSIX.fileSize(path) == Int64(lastStart)) }
            // The repaired log takes new records, and they survive another restart.
            try await store.submit(.createRepository(name: RepositoryName("after/repair")!, settings: .init()))
            let again = try EngineFixture.open(.directory(copy.path))
            #expect(again.sequence == 30)
            #expect(again.state[.default].repositories[RepositoryName("after/repair")!] != nil)
        }
    }

    /// The log writes zeros ahead of its records (so a sync does not change the file's size):
    /// records go over them across restarts, more zeros are written as the records reach them,
    /// and a segment that is done is cut back to its records.
    @Test func recordsWrittenOverTheZerosAheadOfThemSurviveRestartsAndRotations() async throws {
        let directory = TemporaryDirectory()
        var expected: RegistryState
        do {
            let store = try EngineFixture.open(.directory(directory.path), snapshotEvery: 1_000_000)
            expected = try await EngineFixture.drive(store, seed: 21, count: 40).last!
        }
        var segment = EngineFixture.segments(directory).last!
        let firstEnd = try EngineFixture.recordsEnd(segment)
        #expect(Int(POSIX.fileSize(segment)!) > firstEnd)
        #expect(POSIX.fileSize(segment)! >= FileEventLog.smallestReservation)
        do {
            let store = try EngineFixture.open(.directory(directory.path), snapshotEvery: 1_000_000)
            #expect(store.state == expected)
            #expect(!FileManager.default.fileExists(atPath: segment + ".broken"))
            // Past the first 64 KiB of zeros: the log writes more ahead, and records follow on.
            for i in 0..<400 {
                try await store.submit(.createRepository(name: RepositoryName("ahead/r\(i)")!, settings: .init()))
            }
            expected = store.state
        }
        let secondEnd = try EngineFixture.recordsEnd(segment)
        #expect(secondEnd > Int(FileEventLog.smallestReservation))
        #expect(try EngineFixture.recordOffsets(segment).count == Int(expected.sequence))
        do {
            let store = try EngineFixture.open(.directory(directory.path), snapshotEvery: 1_000_000)
            #expect(store.state == expected)
            _ = try await store.compact()
            try await store.submit(.createRepository(name: RepositoryName("after/rotation")!, settings: .init()))
            expected = store.state
            await store.quiesce()
        }
        let segments = EngineFixture.segments(directory)
        #expect(segments.count == 2)
        // The segment before holds its records and nothing after them.
        #expect(Int(POSIX.fileSize(segments[0])!) == secondEnd)
        segment = segments[1]
        #expect(Int(POSIX.fileSize(segment)!) > (try EngineFixture.recordsEnd(segment)))
        let reopened = try EngineFixture.open(.directory(directory.path))
        #expect(reopened.state == expected)
        #expect(reopened.recovery.replayed == 1)
    }

    /// Records larger than the zeros written ahead, and small ones between them, read back
    /// whole and in order after the log is opened again, and the next append goes after them.
    @Test func recordsLargerThanTheZerosAheadReadBackWhole() throws {
        let directory = TemporaryDirectory()
        let sizes = [100, 300_000, 50, 70_000, 3]
        let payloads = sizes.enumerated().map { i, size in (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) } }
        var end = 0
        do {
            let log = try FileEventLog(directory: directory.path + "/wal")
            for (i, payload) in payloads.enumerated() {
                var frame: [UInt8] = []
                RecordFraming.appendFrame(payload, to: &frame)
                try log.append(framed: frame, lastSequence: UInt64(i + 1))
                end += frame.count
            }
            try log.syncTarget().sync()
        }
        let path = EngineFixture.segments(directory).last!
        #expect(try EngineFixture.recordsEnd(path) == end)
        #expect(Int(POSIX.fileSize(path)!) > end)
        let reopened = try FileEventLog(directory: directory.path + "/wal")
        #expect(try reopened.payloads(after: 0).map(Array.init) == payloads)
        var frame: [UInt8] = []
        RecordFraming.appendFrame([1, 2, 3], to: &frame)
        try reopened.append(framed: frame, lastSequence: 6)
        #expect(
            try FileEventLog(directory: directory.path + "/wal").payloads(after: 0).map(Array.init) == payloads + [
                [1, 2, 3]
            ])
    }

    /// Zeros end a segment's records only when nothing but zeros follows: a record after them is
    /// damage a crash cannot explain, and start-up stops.
    @Test func zerosWithARecordAfterThemAreDamage() throws {
        var bytes: [UInt8] = []
        RecordFraming.appendFrame(Array("first".utf8), to: &bytes)
        let end = bytes.count
        #expect(RecordFraming.scan(bytes + [UInt8](repeating: 0, count: 100)).damage == nil)
        #expect(RecordFraming.scan(bytes + [UInt8](repeating: 0, count: 100)).validEnd == end)
        #expect(RecordFraming.scan(bytes + [0, 0, 0]).frames.count == 1)
        var damaged = bytes + [UInt8](repeating: 0, count: 100)
        RecordFraming.appendFrame(Array("second".utf8), to: &damaged)
        let scan = RecordFraming.scan(damaged)
        #expect(scan.frames.count == 1)
        #expect(scan.damage == .corrupt(offset: end, reason: "header check failed", validFrameFollows: true))
        #expect(scan.damage?.isTornTail == false)
    }

    @Test func garbageAfterTheLastRecordIsATornTailToo() async throws {
        let directory = TemporaryDirectory()
        let expected: RegistryState
        do {
            let store = try EngineFixture.open(.directory(directory.path))
            expected = try await EngineFixture.drive(store, seed: 6, count: 20).last!
        }
        let segment = EngineFixture.segments(directory).last!
        let handle = FileHandle(forWritingAtPath: segment)!
        handle.seekToEndOfFile()
        handle.write(Data([0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6]))
        handle.closeFile()
        let store = try EngineFixture.open(.directory(directory.path))
        #expect(store.state == expected)
    }

    @Test(arguments: [0, 5, 13, 40])
    func aFlippedByteInTheMiddleOfTheLogStopsStartUpAndNamesTheFix(offsetInRecord: Int) async throws {
        let directory = TemporaryDirectory()
        do {
            let store = try EngineFixture.open(.directory(directory.path))
            try await EngineFixture.drive(store, seed: 8, count: 40)
        }
        let segment = EngineFixture.segments(directory).last!
        let offsets = try EngineFixture.recordOffsets(segment)
        let damaged = offsets[20] + offsetInRecord
        try EngineFixture.flip(byteAt: damaged, in: segment)
        let before = try POSIX.readFile(segment)
        do {
            _ = try EngineFixture.open(.directory(directory.path))
            Issue.record("start-up should refuse a log damaged in the middle")
        } catch let error as LogError {
            #expect(error.description.contains(segment))
            #expect(error.description.contains("offset \(offsets[20])"))
            #expect(error.description.contains("truncate -s \(offsets[20])"))
        }
        // Nothing was "repaired" away.
        #expect(try POSIX.readFile(segment) == before)
    }

    @Test func damageInAnEarlierSegmentStopsStartUp() async throws {
        let directory = TemporaryDirectory()
        do {
            let store = try EngineFixture.open(.directory(directory.path), snapshotEvery: 1_000_000)
            try await EngineFixture.drive(store, seed: 9, count: 30)
            _ = try await store.compact()
            try await EngineFixture.drive(store, seed: 10, count: 30)
        }
        // Remove the snapshot so the first segment is needed, then cut it short.
        for name in POSIX.list(directory.path + "/snap") where name.hasSuffix(".snap") {
            POSIX.unlink(directory.path + "/snap/" + name)
        }
        let segments = EngineFixture.segments(directory)
        #expect(segments.count == 2)
        EngineFixture.truncate(segments[0], to: Int(POSIX.fileSize(segments[0])!) - 7)
        #expect(throws: LogError.self) { try EngineFixture.open(.directory(directory.path)) }
    }

    @Test func spoolsAreCutBackToTheLoggedLengthAndStrangersRemoved() async throws {
        let directory = TemporaryDirectory()
        let name = RepositoryName("spool/test")!
        let id = UploadID("upload-1")!
        do {
            let store = try EngineFixture.open(.directory(directory.path))
            try await store.submit(.createRepository(name: name, settings: .init()))
            try await store.submit(.startUpload(id: id, repository: name))
            try store.content.createSpool(id)
            let writer = try store.content.openSpool(id)
            try [UInt8](repeating: 7, count: 10).withUnsafeBytes { try writer.write($0, at: 0) }
            // Only 6 of the 10 bytes were acknowledged before the "crash".
            try await store.submit(.appendChunk(upload: id, repository: name, offset: 0, length: 6))
            try store.content.createSpool(UploadID("stranger")!)
        }
        let store = try EngineFixture.open(.directory(directory.path))
        #expect(POSIX.fileSize(directory.path + "/uploads/upload-1") == 6)
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/uploads/stranger"))
        #expect(store.state[.default].uploads[id]?.size == 6)
    }
}
