/// The event log of `--ephemeral` mode: the same frames, kept in memory.
public final class InMemoryEventLog: EventLog {
    private var segments: [(first: UInt64, bytes: [UInt8])] = [(1, [])]

    public init() {}

    public func append(framed bytes: [UInt8], lastSequence: UInt64) throws {
        segments[segments.count - 1].bytes.append(contentsOf: bytes)
    }

    public func syncTarget() -> any LogSyncTarget { NoSync() }

    public var persists: Bool { false }

    public func startSegment(at sequence: UInt64) throws {
        if segments[segments.count - 1].bytes.isEmpty {
            segments[segments.count - 1].first = sequence
        } else {
            segments.append((sequence, []))
        }
    }

    public func payloads(after sequence: UInt64) throws -> [ArraySlice<UInt8>] {
        segments.indices.filter { i in i + 1 == segments.count || segments[i + 1].first > sequence + 1 }
            .flatMap { RecordFraming.scan(segments[$0].bytes).frames.map(\.payload) }
    }

    public func removeSegments(through sequence: UInt64) -> @Sendable () throws -> Void {
        while segments.count > 1 && segments[1].first <= sequence + 1 { segments.removeFirst() }
        return {}
    }

    public var byteCount: Int64 { Int64(segments.reduce(0) { $0 + $1.bytes.count }) }
    public var firstSequence: UInt64 { segments[0].first }

    struct NoSync: LogSyncTarget {
        func sync() throws {}
    }
}
