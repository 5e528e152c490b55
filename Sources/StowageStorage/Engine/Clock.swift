import FoundationEssentials
public import StowageCore
import Synchronization

/// The server's clock, which stamps every command: a time source plus an offset that the admin
/// API moves. The offset is part of the logged state (a `setClock` record), so it survives a
/// restart. Injected, so tests can use a clock that moves only when told.
public protocol RegistryClock: Sendable {
    func now() -> Timestamp
    /// How far the clock stands from its source, in milliseconds.
    var offset: Int64 { get }
    /// Moves the clock to stand `offset` milliseconds from its source; it runs on from there.
    func setOffset(_ offset: Int64)
}

extension RegistryClock {
    /// The offset at which the clock reads `time` now.
    public func offset(toRead time: Timestamp) -> Int64 {
        offset + time.millisecondsSinceEpoch - now().millisecondsSinceEpoch
    }
}

/// Wall-clock time plus an offset.
public final class SystemClock: RegistryClock {
    private let stored = Mutex<Int64>(0)

    public init() {}

    public func now() -> Timestamp {
        let wall = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        return Timestamp(millisecondsSinceEpoch: wall + stored.withLock { $0 })
    }

    public var offset: Int64 { stored.withLock { $0 } }

    public func setOffset(_ offset: Int64) { stored.withLock { $0 = offset } }
}

/// A clock that only moves when told to (tests): a fixed start plus the offset.
public final class ManualClock: RegistryClock {
    private let start: Timestamp
    private let stored = Mutex<Int64>(0)

    public init(_ start: Timestamp = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)) { self.start = start }

    public func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + stored.withLock { $0 })
    }

    public var offset: Int64 { stored.withLock { $0 } }

    public func setOffset(_ offset: Int64) { stored.withLock { $0 = offset } }

    /// Moves the clock by `milliseconds` (tests; a server moves its clock with a logged command).
    public func advance(byMilliseconds milliseconds: Int64) { stored.withLock { $0 += milliseconds } }
}

/// RFC 3339 times, with milliseconds: how the admin API, the CLI and the page write and read them.
public enum RFC3339 {
    public static func format(_ time: Timestamp) -> String {
        let date = Date(timeIntervalSince1970: Double(time.millisecondsSinceEpoch) / 1000)
        return Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    public static func parse(_ text: String) -> Timestamp? {
        let date =
            (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
        return date.map { Timestamp(millisecondsSinceEpoch: Int64(($0.timeIntervalSince1970 * 1000).rounded())) }
    }
}
