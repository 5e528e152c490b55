import Foundation
public import StowageCore
import Synchronization

/// The server's clock, which stamps every command. Injected so tests and the admin API can move it.
public protocol RegistryClock: Sendable {
    func now() -> Timestamp
    /// Moves the clock by `milliseconds` (may be negative); it runs on from there.
    func advance(byMilliseconds milliseconds: Int64)
    /// Sets the clock to `time`; it runs on from there.
    func set(_ time: Timestamp)
}

/// Wall-clock time plus an adjustable offset (the admin API can set or advance it).
public final class SystemClock: RegistryClock {
    private let offset = Mutex<Int64>(0)

    public init() {}

    public func now() -> Timestamp {
        let wall = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        return Timestamp(millisecondsSinceEpoch: wall + offset.withLock { $0 })
    }

    /// Moves the clock by `milliseconds` (may be negative).
    public func advance(byMilliseconds milliseconds: Int64) { offset.withLock { $0 += milliseconds } }

    /// Sets the clock to `time`; it runs on from there.
    public func set(_ time: Timestamp) {
        let wall = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        offset.withLock { $0 = time.millisecondsSinceEpoch - wall }
    }
}

/// A clock that only moves when told to (tests).
public final class ManualClock: RegistryClock {
    private let time: Mutex<Timestamp>

    public init(_ start: Timestamp = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)) { time = Mutex(start) }

    public func now() -> Timestamp { time.withLock { $0 } }

    public func advance(byMilliseconds milliseconds: Int64) {
        time.withLock { $0.millisecondsSinceEpoch += milliseconds }
    }

    public func set(_ time: Timestamp) { self.time.withLock { $0 = time } }
}
