import FoundationEssentials
public import StowageCore

/// # Snapshot file format, version 1
///
/// ```
/// magic        8 bytes   "STOWSNAP"
/// version      u32 LE    1
/// flags        u32 LE    0
/// sequence     u64 LE    the last log sequence number the snapshot covers
/// rawLength    u64 LE    size of the payload once inflated
/// payloadCRC   u32 LE    zlib CRC-32 of the compressed payload
/// headerCRC    u32 LE    zlib CRC-32 of the 36 bytes above
/// payload      zlib stream of the RegistryState as JSON (sorted keys, so the same state
///              always gives the same bytes; written by `StateWriter`, read by `StateReader`)
/// ```
///
/// Files live in `snap/` as `%016x.snap` (the sequence), written to a temporary name, synced,
/// renamed and the directory synced. Decoding checks the magic, version, both checksums and
/// inflates no more than `rawLength` bytes.
public enum SnapshotFormat {
    public static let magic = Array("STOWSNAP".utf8)
    public static let version: UInt32 = 1
    static let headerSize = 40

    /// Why a snapshot could not be read.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Encodes `state`, which covers the log through `sequence`, at zlib `level`.
    public static func encode(_ state: RegistryState, sequence: UInt64, level: Int32 = 1) throws -> [UInt8] {
        let deflater = Zlib.Deflater(level: level)
        var writer = StateWriter(sink: { deflater.append($0) })
        try writer.write(state)
        let payload = deflater.finish()
        var bytes = magic
        bytes.reserveCapacity(headerSize + payload.count)
        LittleEndian.append(version, to: &bytes)
        LittleEndian.append(UInt32(0), to: &bytes)
        LittleEndian.append(sequence, to: &bytes)
        LittleEndian.append(UInt64(deflater.consumed), to: &bytes)
        LittleEndian.append(payload.withUnsafeBytes { Zlib.crc32($0) }, to: &bytes)
        LittleEndian.append(bytes.withUnsafeBytes { Zlib.crc32($0) }, to: &bytes)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The header fields, checked.
    public struct Header: Sendable {
        public var version: UInt32
        public var sequence: UInt64
        public var rawLength: UInt64
        public var compressedLength: Int
    }

    /// Reads and checks the header.
    public static func header(_ bytes: [UInt8]) throws(Failure) -> Header {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
            throw Failure(description: "not a Stowage snapshot (bad magic)")
        }
        let headerCRC = bytes[0..<36].withUnsafeBytes { Zlib.crc32($0) }
        guard headerCRC == LittleEndian.read(UInt32.self, bytes, 36) else {
            throw Failure(description: "header checksum mismatch")
        }
        let version = LittleEndian.read(UInt32.self, bytes, 8)
        guard version == Self.version else {
            throw Failure(description: "snapshot format version \(version); this Stowage reads version \(Self.version)")
        }
        let payloadCRC = bytes[headerSize...].withUnsafeBytes { Zlib.crc32($0) }
        guard payloadCRC == LittleEndian.read(UInt32.self, bytes, 32) else {
            throw Failure(description: "payload checksum mismatch")
        }
        return Header(
            version: version, sequence: LittleEndian.read(UInt64.self, bytes, 16),
            rawLength: LittleEndian.read(UInt64.self, bytes, 24),
            compressedLength: bytes.count - headerSize)
    }

    /// Decodes a snapshot into the state and the last sequence it covers.
    public static func decode(_ bytes: [UInt8]) throws -> (sequence: UInt64, state: RegistryState) {
        let header = try header(bytes)
        guard header.rawLength <= UInt64(Int.max) else { throw Failure(description: "impossible length") }
        let json: [UInt8]
        do { json = try Zlib.decompress(Array(bytes[headerSize...]), exactly: Int(header.rawLength)) } catch {
            throw Failure(description: "payload length mismatch or corrupt payload: \(error)")
        }
        return (header.sequence, try StateCodec.decodeState(json))
    }

}

/// The JSON coding of states, records and exports: sorted keys and unescaped slashes, so the
/// same value always gives the same bytes.
public enum StateCodec {
    /// Compact JSON, keys sorted: what `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]`
    /// writes, from `CanonicalJSONEncoder`.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try CanonicalJSONEncoder().encode(value)
    }

    /// A log record, by ``StateWriter``: the same bytes as ``encode(_:)``, the common commands
    /// written by hand.
    public static func encodeRecord(_ record: LogRecord) throws -> [UInt8] {
        var writer = StateWriter()
        try writer.write(record)
        return writer.output
    }

    /// A whole state, by ``StateWriter``: the same bytes as ``encode(_:)``, written by hand.
    public static func encodeState(_ state: RegistryState) throws -> [UInt8] {
        var writer = StateWriter()
        try writer.write(state)
        return writer.output
    }

    /// A whole state, by ``StateReader``: what ``decode(_:from:)`` reads, read by hand.
    public static func decodeState(_ bytes: some Collection<UInt8>) throws -> RegistryState {
        try StateReader.read(bytes)
    }

    public static func decode<T: Decodable, Bytes: Collection<UInt8>>(_ type: T.Type, from bytes: Bytes) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
