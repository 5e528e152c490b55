import StowageTestSupport
import Testing

@testable import StowageStorage

/// The in-memory spool store's chunked bytes behave as a plain byte array would, across the
/// small-array limit and chunk boundaries.
struct MemoryBytesTests {
    @Test(arguments: [1, 2, 3])
    func matchesAByteArrayUnderRandomWritesTruncationsAndReads(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let bytes = MemoryBytes()
        var model: [UInt8] = []
        let limit = 3 * MemoryBytes.chunkSize
        for _ in 0..<40 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<6:
                // Appends mostly, sometimes overwrites or leaves a gap.
                let length = Int.random(in: 0...(MemoryBytes.smallLimit * 3 / 2), using: &random)
                let offset = min(
                    limit,
                    [model.count, Int.random(in: 0...model.count, using: &random), model.count + 4096].randomElement(
                        using: &random)!)
                // A position-dependent pattern, so bytes landing at the wrong offset are seen.
                let salt = Int.random(in: 1...250, using: &random)
                let data = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
                    for i in 0..<length { buffer[i] = UInt8(truncatingIfNeeded: i / 7 &+ salt &* (i & 15)) }
                    initialized = length
                }
                data.withUnsafeBytes { bytes.write($0, at: offset) }
                if model.count < offset + length { model += Array(repeating: 0, count: offset + length - model.count) }
                model.replaceSubrange(offset..<(offset + length), with: data)
            case 6:
                let size = Int.random(in: 0...(model.count + 10), using: &random)
                bytes.truncate(to: size)
                if size < model.count { model.removeLast(model.count - size) }
            default:
                break
            }
            #expect(bytes.count == model.count)
            let offset = Int.random(in: 0...(model.count + 1), using: &random)
            var buffer = [UInt8](
                repeating: 0xAA, count: Int.random(in: 0...(2 * MemoryBytes.chunkSize), using: &random))
            let n = buffer.withUnsafeMutableBytes { bytes.read(at: offset, into: $0) }
            let expected = offset < model.count ? Array(model[offset..<min(model.count, offset + buffer.count)]) : []
            #expect(n == expected.count)
            #expect(Array(buffer[0..<n]) == expected)
        }
    }
}
