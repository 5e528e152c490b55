import Dispatch
import FoundationEssentials

/// Work cut into runs for the cores: what reading a large snapshot shares between its paths.
enum Parallel {
    /// The cores this process may run on.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Items of `lengths` cut into `threads` runs (fewer when there are fewer items) of about
    /// equal length, in order: run r starts at the first item past r/threads of the total.
    static func runs(_ lengths: [Int], threads: Int) -> [Range<Int>] {
        let total = lengths.reduce(0, +)
        let threads = max(1, min(threads, lengths.count))
        var cuts = [0]
        var sum = 0
        for (index, length) in lengths.enumerated() {
            if index > 0 && cuts.count < threads && sum >= total * cuts.count / threads { cuts.append(index) }
            sum += length
        }
        cuts.append(lengths.count)
        return zip(cuts, cuts.dropFirst()).map { $0..<$1 }
    }

    /// `body` of each of `count` runs, on every core when there are several; in order.
    static func perform<Value>(_ count: Int, _ body: @Sendable (Int) -> Value) -> [Value] {
        guard count > 1 else { return (0..<count).map(body) }
        return [Value](unsafeUninitializedCapacity: count) { values, initialized in
            // Each run writes only its own slot, and `concurrentPerform` returns when all are done.
            nonisolated(unsafe) let values = values
            DispatchQueue.concurrentPerform(iterations: count) { (values.baseAddress! + $0).initialize(to: body($0)) }
            initialized = count
        }
    }
}
