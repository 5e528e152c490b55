import StowageCore

/// The container that export files and recordings share: a checked header, then one zlib stream.
///
/// ```
/// magic        8 bytes   what the file is ("STOWEXPT", "STOWRCRD")
/// version      u32 LE
/// flags        u32 LE    bit 0: the blobs are included
/// rawLength    u64 LE    size of the payload once inflated
/// payloadCRC   u32 LE    zlib CRC-32 of the compressed payload
/// headerCRC    u32 LE    zlib CRC-32 of the 28 bytes above
/// payload      zlib stream
/// ```
///
/// Opening checks, in order, before anything inside is read: the magic, the header's checksum,
/// the version, the payload's checksum, a claimed size within the caller's limit (so a zlib bomb
/// stops there), and that the payload inflates to exactly that size.
/// Why an export file or a recording was refused, in words that say what is wrong with it.
public struct FileFailure: Error, CustomStringConvertible, Sendable {
    public var description: String

    /// Runs a decoding step; any other error it throws becomes a failure that quotes it.
    static func catching<T>(_ body: () throws -> T) throws(FileFailure) -> T {
        do { return try body() } catch let failure as FileFailure { throw failure } catch {
            throw FileFailure(description: "\(error)")
        }
    }
}

enum PackedFile {
    static let headerSize = 32
    typealias Failure = FileFailure

    /// The header and the compressed `payload`.
    static func pack(magic: [UInt8], version: UInt32, flags: UInt32, payload: [UInt8], level: Int32 = 6) -> [UInt8] {
        let compressed = Zlib.compress(payload, level: level)
        var file = magic
        LittleEndian.append(version, to: &file)
        LittleEndian.append(flags, to: &file)
        LittleEndian.append(UInt64(payload.count), to: &file)
        LittleEndian.append(compressed.withUnsafeBytes { Zlib.crc32($0) }, to: &file)
        LittleEndian.append(file.withUnsafeBytes { Zlib.crc32($0) }, to: &file)
        return file + compressed
    }

    /// The flags and the inflated payload of a file that passes every check.
    static func open(
        _ bytes: [UInt8], magic: [UInt8], version expected: UInt32, what: String, limit: Int
    ) throws(Failure) -> (flags: UInt32, payload: [UInt8]) {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
            throw Failure(
                description: "not a Stowage \(what): it does not start with \(String(decoding: magic, as: UTF8.self))")
        }
        guard bytes[0..<28].withUnsafeBytes({ Zlib.crc32($0) }) == LittleEndian.read(UInt32.self, bytes, 28) else {
            throw Failure(description: "the header's checksum does not match: the file is damaged")
        }
        let version = LittleEndian.read(UInt32.self, bytes, 8)
        guard version == expected else {
            throw Failure(
                description:
                    "\(what) format version \(version) is not one this Stowage reads (it reads version \(expected))"
            )
        }
        let flags = LittleEndian.read(UInt32.self, bytes, 12)
        let rawLength = LittleEndian.read(UInt64.self, bytes, 16)
        guard bytes[headerSize...].withUnsafeBytes({ Zlib.crc32($0) }) == LittleEndian.read(UInt32.self, bytes, 24)
        else {
            throw Failure(description: "the payload's checksum does not match: the file is damaged or truncated")
        }
        guard rawLength <= UInt64(limit) else {
            throw Failure(
                description: "the file claims \(rawLength) bytes of content, more than the import limit of \(limit)")
        }
        let payload: [UInt8]
        do { payload = try Zlib.decompress(Array(bytes[headerSize...]), limit: Int(rawLength)) } catch {
            throw Failure(description: "the payload does not inflate: \(error)")
        }
        guard payload.count == Int(rawLength) else {
            throw Failure(
                description: "the payload inflates to \(payload.count) bytes, not the \(rawLength) the header says")
        }
        return (flags, payload)
    }

    /// Appends `count u32`, then for each blob by digest: `digestLength u16`, the digest, `size u64`, the bytes.
    static func appendBlobs(_ blobs: [Digest: [UInt8]], to payload: inout [UInt8]) {
        let sorted = blobs.sorted { $0.key < $1.key }
        LittleEndian.append(UInt32(sorted.count), to: &payload)
        for (digest, bytes) in sorted {
            LittleEndian.append(UInt16(digest.rawValue.utf8.count), to: &payload)
            payload += Array(digest.rawValue.utf8)
            LittleEndian.append(UInt64(bytes.count), to: &payload)
            payload += bytes
        }
    }

    /// Sequential reads of a payload, each naming what it reads so a short file says where it ends.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func take(_ count: UInt64, _ what: String) throws(Failure) -> ArraySlice<UInt8> {
            guard count <= UInt64(bytes.count - offset) else {
                throw Failure(description: "the file ends inside the \(what)")
            }
            defer { offset += Int(count) }
            return bytes[offset..<(offset + Int(count))]
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(Failure) -> T {
            let slice = try take(UInt64(MemoryLayout<T>.size), what)
            var value: T = 0
            for byte in slice.reversed() { value = value << 8 | T(byte) }
            return value
        }

        /// A `length u64` then that many bytes.
        mutating func sized(_ what: String) throws(Failure) -> ArraySlice<UInt8> {
            try take(try integer(UInt64.self, "length of the \(what)"), what)
        }

        /// The blob section `appendBlobs` writes, each blob's bytes checked against its digest.
        mutating func blobs() throws(Failure) -> [Digest: [UInt8]] {
            let count = try integer(UInt32.self, "blob count")
            var blobs: [Digest: [UInt8]] = [:]
            for i in 0..<count {
                let length = try integer(UInt16.self, "digest length of blob \(i)")
                let text = String(decoding: try take(UInt64(length), "digest of blob \(i)"), as: UTF8.self)
                guard let digest = Digest(text) else {
                    throw Failure(description: "blob \(i) has an invalid digest '\(text)'")
                }
                let content = Array(try sized("bytes of blob \(digest)"))
                guard ContentDigester.digest(content, digest.algorithm) == digest else {
                    throw Failure(description: "blob \(digest): its bytes do not have that digest")
                }
                guard blobs.updateValue(content, forKey: digest) == nil else {
                    throw Failure(description: "blob \(digest) appears twice")
                }
            }
            return blobs
        }
    }
}
