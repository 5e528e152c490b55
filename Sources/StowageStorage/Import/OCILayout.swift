import FoundationEssentials
public import StowageCore

/// An OCI image layout read from a tar archive.
public struct OCILayout: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What to push: blobs, then manifests with children before their index.
    public struct Plan: Sendable {
        public var blobs: [(Digest, [UInt8])]
        public var manifests: [(manifest: Manifest, tag: Tag?)]
    }

    var files: [String: [UInt8]]

    /// Reads the files of a tar (or gzipped tar) archive that holds an OCI image layout.
    public init(tar: [UInt8]) throws {
        var bytes = tar
        if bytes.starts(with: [0x1F, 0x8B]) {
            bytes = try Zlib.decompress(bytes, limit: 1 << 32, gzip: true)
        }
        files = try TarReader.files(bytes)
        guard files["oci-layout"] != nil, files["index.json"] != nil else {
            throw Failure(description: "the archive is not an OCI image layout (no oci-layout or index.json)")
        }
    }

    /// Reads an OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
    public init(directory: String) throws {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var files: [String: [UInt8]] = [:]
        guard let walk = try? FileManager.default.subpathsOfDirectory(atPath: root) else {
            throw Failure(description: "\(directory) is not a readable directory")
        }
        for relative in walk {
            var isDirectory = false
            guard FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory),
                !isDirectory, let data = FileManager.default.contents(atPath: root + "/" + relative)
            else { continue }
            files[relative] = Array(data)
        }
        guard files["oci-layout"] != nil, files["index.json"] != nil else {
            throw Failure(description: "\(directory) is not an OCI image layout (no oci-layout or index.json)")
        }
        self.files = files
    }

    /// The repository the layout's ref names name, when they are full references (`team/app:v1`):
    /// the one all of them agree on.
    public var namedRepository: RepositoryName? {
        guard let index = files["index.json"].flatMap({ try? JSONValue.parse($0) }),
            let entries = index["manifests"]?.arrayValue
        else { return nil }
        let names = Set(
            entries.compactMap { entry -> String? in
                guard let ref = entry["annotations"]?["org.opencontainers.image.ref.name"]?.stringValue,
                    let colon = ref.lastIndex(of: ":"), colon != ref.startIndex
                else { return nil }
                return String(ref[..<colon])
            })
        return names.count == 1 ? names.first.flatMap(RepositoryName.init) : nil
    }

    func blob(_ digest: Digest) throws -> [UInt8] {
        guard let bytes = files["blobs/\(digest.algorithm.rawValue)/\(digest.hex)"] else {
            throw Failure(description: "blob \(digest) is named but not in the archive")
        }
        guard ContentDigester.digest(bytes, digest.algorithm) == digest else {
            throw Failure(description: "blob \(digest) does not have that digest")
        }
        return bytes
    }

    /// What to store: every blob the manifests name (each checked against its digest), then the
    /// manifests, children before their index, with the tags `index.json` names.
    public func plan() throws -> Plan {
        guard let index = try? JSONValue.parse(files["index.json"]!), let entries = index["manifests"]?.arrayValue
        else { throw Failure(description: "index.json is not an image index") }
        var blobs: [Digest: [UInt8]] = [:]
        var manifests: [(Manifest, Tag?)] = []
        var seen: Set<Digest> = []
        // A manifest without a mediaType of its own has the one of the descriptor that names it.
        func add(_ digest: Digest, mediaType: String?, tag: Tag?) throws {
            let bytes = try blob(digest)
            let parsed: (mediaType: String, references: ManifestReferences)
            do { parsed = try ManifestParser.parse(bytes, contentType: mediaType) } catch {
                throw Failure(description: "manifest \(digest): \(error.reason)")
            }
            for child in parsed.references.manifests where !seen.contains(child.digest) {
                try add(child.digest, mediaType: child.mediaType, tag: nil)
            }
            for descriptor in parsed.references.blobs { blobs[descriptor.digest] = try blob(descriptor.digest) }
            if seen.insert(digest).inserted || tag != nil {
                manifests.append(
                    (
                        Manifest(
                            digest: digest, mediaType: parsed.mediaType,
                            content: String(decoding: bytes, as: UTF8.self), references: parsed.references), tag
                    ))
            }
        }
        for entry in entries {
            guard let text = entry["digest"]?.stringValue, let digest = Digest(text) else {
                throw Failure(description: "index.json names an invalid digest")
            }
            var tag: Tag? = nil
            if let ref = entry["annotations"]?["org.opencontainers.image.ref.name"]?.stringValue {
                tag = Tag(ref) ?? ref.split(separator: ":").last.flatMap { Tag(String($0)) }
            }
            try add(digest, mediaType: entry["mediaType"]?.stringValue, tag: tag)
        }
        return Plan(blobs: blobs.sorted { $0.key < $1.key }, manifests: manifests)
    }
}

/// Reads the regular files of a tar archive (ustar, pax and GNU long names).
public enum TarReader {
    /// Whether the bytes start as a tar archive does (`ustar` at offset 257, as POSIX and GNU tar write).
    public static func looksLikeTar(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 512 && bytes[257..<262].elementsEqual("ustar".utf8)
    }

    static func files(_ bytes: [UInt8]) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        var offset = 0
        var longName: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            func field(_ start: Int, _ length: Int) -> String {
                let slice = header[(offset + start)..<(offset + start + length)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let size = Int(field(124, 12).filter { $0 != " " }, radix: 8) else {
                throw OCILayout.Failure(description: "a tar header at offset \(offset) is damaged")
            }
            let type = header[offset + 156]
            let prefix = field(345, 155)
            var name = longName ?? (prefix.isEmpty ? field(0, 100) : prefix + "/" + field(0, 100))
            longName = nil
            let dataStart = offset + 512
            guard dataStart + size <= bytes.count else {
                throw OCILayout.Failure(description: "the tar archive is truncated")
            }
            let data = Array(bytes[dataStart..<(dataStart + size)])
            switch type {
            case UInt8(ascii: "L"):
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    if let range = line.firstRange(of: " path=") { longName = String(line[range.upperBound...]) }
                }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                while name.hasPrefix("./") { name.removeFirst(2) }
                files[name] = data
            default:
                break
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        return files
    }
}
