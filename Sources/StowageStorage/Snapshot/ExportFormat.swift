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

    /// Why an export file was refused, in words that say what is wrong with it.
    public typealias Failure = FileFailure

    /// What an export file holds.
    public struct Contents: Sendable {
        public var state: RegistryState
        public var blobs: [Digest: [UInt8]]
        public var includesBlobs: Bool
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
        var writer = StateWriter()
        try writer.write(scopes: exportable(state).scopes)
        let json = writer.output
        var payload: [UInt8] = []
        payload.reserveCapacity(json.count + (blobs?.values.reduce(0) { $0 + $1.count + 80 } ?? 0) + 16)
        LittleEndian.append(UInt64(json.count), to: &payload)
        payload += json
        PackedFile.appendBlobs(blobs ?? [:], to: &payload)
        return PackedFile.pack(magic: magic, version: version, flags: blobs == nil ? 0 : 1, payload: payload)
    }

    /// Decodes and validates an export file, inflating at most `limit` bytes.
    public static func decode(_ bytes: [UInt8], limit: Int) throws(Failure) -> Contents {
        try FileFailure.catching { try validated(bytes, limit: limit) }
    }

    private static func validated(_ bytes: [UInt8], limit: Int) throws -> Contents {
        let opened = try PackedFile.open(bytes, magic: magic, version: version, what: "export file", limit: limit)
        var reader = PackedFile.Reader(bytes: opened.payload)
        let json = try reader.sized("state")
        var state = RegistryState()
        do { state.scopes = try StateReader.readScopes(json) } catch {
            throw Failure(description: "the registry in the file does not decode: \(error)")
        }
        let problems = state._checkInvariants()
        guard problems.isEmpty else {
            throw Failure(description: "the registry in the file is inconsistent: \(problems[0])")
        }
        let blobs = try reader.blobs()
        guard reader.isAtEnd else { throw Failure(description: "unexpected bytes after the last blob") }
        let includesBlobs = opened.flags & 1 == 1
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
}
