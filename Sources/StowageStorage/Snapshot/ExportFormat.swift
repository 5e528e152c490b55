import HashTreeCollections
public import StowageCore

/// # Export file format, version 1
///
/// One file holds a registry's content and, optionally, every blob it links:
///
/// ```
/// magic        8 bytes   "STOWEXPT"
/// version      u32 LE    1
/// flags        u32 LE    bit 0: the blobs are included
/// rawLength    u64 LE    size of the payload once inflated
/// payloadCRC   u32 LE    zlib CRC-32 of the compressed payload
/// headerCRC    u32 LE    zlib CRC-32 of the 28 bytes above
/// payload      zlib stream of:
///   stateLength  u64 LE, then the registry as JSON (sorted keys): {"scopes": ...}
///   blobCount    u32 LE, then for each blob, by digest:
///     digestLength u16 LE, the digest (ASCII), size u64 LE, the blob's bytes
/// ```
///
/// What is exported is the registry's content — every account-region's registry settings and
/// repositories with their settings, images, tags and blob links — without uploads in flight, checkpoints, or the log position,
/// so the same content always exports to the same bytes, wherever it is imported.
///
/// Decoding validates everything before anything is used: magic, version, both checksums, a
/// claimed size within the caller's limit (a zlib bomb stops at that limit), the exact payload
/// length, the JSON, the state's own consistency, every blob's digest against its bytes, and
/// that every linked blob is present when blobs are included.
public enum ExportFormat {
    public static let magic = Array("STOWEXPT".utf8)
    public static let version: UInt32 = 1
    static let headerSize = 32

    /// Why an export file was refused, in words that say what is wrong with it.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What an export file holds.
    public struct Contents: Sendable {
        public var state: RegistryState
        public var blobs: [Digest: [UInt8]]
        public var includesBlobs: Bool
    }

    private struct Exported: Codable {
        var scopes: TreeDictionary<Scope, ScopeState>
    }

    /// The registry's content, as exported: no uploads, checkpoints or log position.
    public static func exportable(_ state: RegistryState) -> RegistryState {
        var content = RegistryState()
        for (scope, scoped) in state.scopes where !scoped.repositories.isEmpty || scoped.registry != nil {
            var kept = ScopeState()
            kept.repositories = scoped.repositories
            kept.registry = scoped.registry
            content.scopes[scope] = kept
        }
        return content
    }

    /// Encodes `state`'s content and, when `blobs` is given, those blobs.
    public static func encode(_ state: RegistryState, blobs: [Digest: [UInt8]]?) throws -> [UInt8] {
        let json = try StateCodec.encode(Exported(scopes: exportable(state).scopes))
        var payload: [UInt8] = []
        payload.reserveCapacity(json.count + (blobs?.values.reduce(0) { $0 + $1.count + 80 } ?? 0) + 16)
        LittleEndian.append(UInt64(json.count), to: &payload)
        payload += json
        let sorted = (blobs ?? [:]).sorted { $0.key < $1.key }
        LittleEndian.append(UInt32(sorted.count), to: &payload)
        for (digest, bytes) in sorted {
            LittleEndian.append(UInt16(digest.rawValue.utf8.count), to: &payload)
            payload += Array(digest.rawValue.utf8)
            LittleEndian.append(UInt64(bytes.count), to: &payload)
            payload += bytes
        }
        let compressed = Zlib.compress(payload, level: 6)
        var file = magic
        LittleEndian.append(version, to: &file)
        LittleEndian.append(UInt32(blobs == nil ? 0 : 1), to: &file)
        LittleEndian.append(UInt64(payload.count), to: &file)
        LittleEndian.append(compressed.withUnsafeBytes { Zlib.crc32($0) }, to: &file)
        LittleEndian.append(file.withUnsafeBytes { Zlib.crc32($0) }, to: &file)
        return file + compressed
    }

    /// Decodes and validates an export file, inflating at most `limit` bytes.
    public static func decode(_ bytes: [UInt8], limit: Int) throws(Failure) -> Contents {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
            throw Failure(description: "not a Stowage export file: it does not start with STOWEXPT")
        }
        guard bytes[0..<28].withUnsafeBytes({ Zlib.crc32($0) }) == LittleEndian.read(UInt32.self, bytes, 28) else {
            throw Failure(description: "the header's checksum does not match: the file is damaged")
        }
        let version = LittleEndian.read(UInt32.self, bytes, 8)
        guard version == Self.version else {
            throw Failure(
                description:
                    "export format version \(version) is not one this Stowage reads (it reads version \(Self.version))")
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
        var reader = Reader(bytes: payload)
        let stateLength = try reader.integer(UInt64.self, "state length")
        let json = try reader.take(stateLength, "state")
        var state = RegistryState()
        do { state.scopes = try StateCodec.decode(Exported.self, from: json).scopes } catch {
            throw Failure(description: "the registry in the file does not decode: \(error)")
        }
        let problems = state._checkInvariants()
        guard problems.isEmpty else {
            throw Failure(description: "the registry in the file is inconsistent: \(problems[0])")
        }
        let count = try reader.integer(UInt32.self, "blob count")
        var blobs: [Digest: [UInt8]] = [:]
        for i in 0..<count {
            let length = try reader.integer(UInt16.self, "digest length of blob \(i)")
            let text = String(decoding: try reader.take(UInt64(length), "digest of blob \(i)"), as: UTF8.self)
            guard let digest = Digest(text) else {
                throw Failure(description: "blob \(i) has an invalid digest '\(text)'")
            }
            let size = try reader.integer(UInt64.self, "size of blob \(digest)")
            let content = Array(try reader.take(size, "bytes of blob \(digest)"))
            guard ContentDigester.digest(content, digest.algorithm) == digest else {
                throw Failure(description: "blob \(digest): its bytes do not have that digest")
            }
            guard blobs.updateValue(content, forKey: digest) == nil else {
                throw Failure(description: "blob \(digest) appears twice")
            }
        }
        guard reader.isAtEnd else { throw Failure(description: "unexpected bytes after the last blob") }
        let includesBlobs = flags & 1 == 1
        if includesBlobs {
            let missing = state.linkedBlobs.filter { blobs[$0] == nil }
            guard missing.isEmpty else {
                throw Failure(
                    description:
                        "the registry links \(missing.count) blob(s) the file does not hold, e.g. \(missing.sorted().first!)"
                )
            }
        }
        return Contents(state: state, blobs: blobs, includesBlobs: includesBlobs)
    }

    private struct Reader {
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
    }

}
