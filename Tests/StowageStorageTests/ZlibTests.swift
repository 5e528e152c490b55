import HashTreeCollections
import Testing

@testable import StowageStorage

struct ZlibTests {
    @Test(arguments: [0, 1, 100, 65_536, 1_000_003])
    func compressingThenInflatingGivesBackTheBytes(size: Int) throws {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<size).map { i in i % 3 == 0 ? UInt8.random(in: 0...255, using: &random) : UInt8(i % 7) }
        let compressed = Zlib.compress(bytes)
        #expect(try Zlib.decompress(compressed, limit: size) == bytes)
        #expect(try Zlib.decompress(compressed, exactly: size) == bytes)
    }

    /// A snapshot's text inflates into a buffer of exactly the size its header claims: a stream
    /// that holds more, less, is cut short, damaged, or followed by more bytes is refused.
    @Test func inflatingExactlyRefusesEveryOtherLength() {
        let text = Array(String(repeating: "hello, registry; ", count: 500).utf8)
        let compressed = Zlib.compress(text)
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed, exactly: text.count - 1) }
        #expect(throws: Zlib.Failure.tooLarge(limit: text.count - 2)) {
            try Zlib.decompress(compressed, exactly: text.count - 2)
        }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed, exactly: text.count + 1) }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed, exactly: 0) }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(Array(compressed.dropLast(3)), exactly: text.count) }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed + [1, 2, 3], exactly: text.count) }
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xFF
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(corrupt, exactly: text.count) }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress([], exactly: 0) }
    }

    /// A snapshot segment's stream is inflated without zlib's Adler-32 of the text (the segment's
    /// CRC-32 covers the stream): the same bytes come out, a wrong trailer is then the only damage
    /// let through, and a bad header, a missing or extra byte, or damaged data are still refused.
    @Test(arguments: [1, 7, Zlib.piece])
    func inflatingWithoutTheChecksumChecksAllButTheTrailer(piece: Int) throws {
        func inflated(_ stream: [UInt8], _ count: Int, checksum: Bool) throws -> [UInt8] {
            var output = [UInt8](repeating: 0xAA, count: count)
            try stream.withUnsafeBufferPointer { input in
                try output.withUnsafeMutableBufferPointer { out in
                    try Zlib.inflate(input, exactlyInto: out, checksum: checksum, piece: piece)
                }
            }
            return output
        }
        var random = SystemRandomNumberGenerator()
        let text = (0..<20_000).map { i in i % 4 == 0 ? UInt8.random(in: 0...255, using: &random) : UInt8(i % 13) }
        let stream = Zlib.compress(text)
        #expect(try inflated(stream, text.count, checksum: false) == text)
        #expect(try inflated(Zlib.compress([]), 0, checksum: false) == [])
        var trailer = stream
        trailer[trailer.count - 1] ^= 0x01
        #expect(throws: Zlib.Failure.self) { try inflated(trailer, text.count, checksum: true) }
        #expect(try inflated(trailer, text.count, checksum: false) == text)
        var header = stream
        header[1] ^= 0x01  // the check bits
        #expect(throws: Zlib.Failure.self) { try inflated(header, text.count, checksum: false) }
        var dictionary = stream
        dictionary[1] |= 0x20
        dictionary[1] =
            dictionary[1] & 0xE0 | UInt8((31 - (UInt16(dictionary[0]) << 8 | UInt16(dictionary[1] & 0xE0)) % 31) % 31)
        #expect(throws: Zlib.Failure.self) { try inflated(dictionary, text.count, checksum: false) }
        var method = stream
        method[0] = 0x79  // a window of 2^15 but method 9
        #expect(throws: Zlib.Failure.self) { try inflated(method, text.count, checksum: false) }
        #expect(throws: Zlib.Failure.self) { try inflated(Array(stream.dropLast()), text.count, checksum: false) }
        #expect(throws: Zlib.Failure.self) { try inflated(stream + [0], text.count, checksum: false) }
        #expect(throws: Zlib.Failure.self) { try inflated(Array(stream.prefix(5)), 0, checksum: false) }
        #expect(throws: Zlib.Failure.self) { try inflated(stream, text.count - 1, checksum: false) }
        #expect(throws: Zlib.Failure.self) { try inflated(stream, text.count + 1, checksum: false) }
        var data = stream
        data[data.count / 2] ^= 0xFF
        #expect((try? inflated(data, text.count, checksum: false)) != text)
    }

    @Test func aBombIsStoppedAtTheLimit() throws {
        let bomb = Zlib.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(bomb.count < 100_000)
        #expect(throws: Zlib.Failure.tooLarge(limit: 1 << 20)) { try Zlib.decompress(bomb, limit: 1 << 20) }
    }

    @Test func truncatedOrCorruptStreamsAreRefused() {
        let compressed = Zlib.compress(Array("hello, registry, hello, registry".utf8))
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(Array(compressed.dropLast(3)), limit: 1000) }
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xFF
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(corrupt, limit: 1000) }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed + [1, 2, 3], limit: 1000) }
    }

    /// zlib's counts are 32-bit, so what is larger goes to it in pieces: with pieces of a few bytes,
    /// every function gives what it gives in one piece.
    @Test(arguments: [1, 7, 4096])
    func piecesGiveWhatOnePieceGives(piece: Int) throws {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<50_000).map { i in i % 5 == 0 ? UInt8.random(in: 0...255, using: &random) : UInt8(i % 11) }
        let compressed = Zlib.compress(bytes, piece: piece)
        #expect(compressed == Zlib.compress(bytes))
        #expect(try Zlib.decompress(compressed, exactly: bytes.count, piece: piece) == bytes)
        #expect(try Zlib.decompress(compressed, limit: bytes.count, piece: piece) == bytes)
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed + [9], exactly: bytes.count, piece: piece) }
        #expect(throws: Zlib.Failure.self) { try Zlib.decompress(compressed + [9], limit: bytes.count, piece: piece) }
        #expect(throws: Zlib.Failure.self) {
            try Zlib.decompress(Array(compressed.dropLast(2)), exactly: bytes.count, piece: piece)
        }
        #expect(
            bytes.withUnsafeBytes { Zlib.crc32($0, piece: piece) } == bytes.withUnsafeBytes { Zlib.crc32($0) })
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        // Continued over pieces, the same checksum as over the whole.
        let whole = Array("123456789".utf8)
        let first = whole[..<4].withUnsafeBytes { Zlib.crc32($0) }
        #expect(whole[4...].withUnsafeBytes { Zlib.crc32($0, continuing: first) } == 0xCBF4_3926)
        #expect(Zlib.crc32([UInt8]()) == 0)
    }
}
