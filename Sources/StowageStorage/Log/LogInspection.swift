/// Reads a log segment for `stowage inspect`: how many records, which sequence numbers, and the
/// first problem, if any.
public enum LogInspection {
    public struct Result: Sendable {
        public var records: Int
        public var first: UInt64?
        public var last: UInt64?
        /// Where the records end: the last segment goes on in zeros written ahead of them.
        public var recordBytes: Int
        public var problem: String?
    }

    public static func scan(_ bytes: [UInt8]) -> Result {
        let scan = RecordFraming.scan(bytes)
        var result = Result(
            records: scan.frames.count, recordBytes: scan.validEnd,
            problem: scan.damage.map { "\($0)" + ($0.isTornTail ? " (a torn tail: repaired at start-up)" : "") })
        for frame in scan.frames {
            guard let record = try? StateCodec.decodeRecord(frame.payload) else {
                result.problem = "record at offset \(frame.offset) passes its checksum but does not decode"
                break
            }
            if result.first == nil { result.first = record.sequence }
            result.last = record.sequence
        }
        return result
    }
}
