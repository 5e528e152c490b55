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
