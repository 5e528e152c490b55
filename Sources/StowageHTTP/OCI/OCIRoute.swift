import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import StowageCore

/// What a `/v2/...` path addresses, found by matching the fixed suffix from the END of the path:
/// repository names may themselves contain `blobs`, `manifests`, `uploads` or `tags` as components.
enum OCIRoute: Equatable, Sendable {
    case base
    case catalog
    /// `<name>/blobs/uploads/` (a trailing slash is optional).
    case uploads(String)
    /// `<name>/blobs/uploads/<id>`
    case upload(String, id: String)
    /// `<name>/blobs/<digest>`
    case blob(String, digest: String)
    /// `<name>/manifests/<reference>`
    case manifest(String, reference: String)
    /// `<name>/tags/list`
    case tags(String)
    /// `<name>/referrers/<digest>`
    case referrers(String, digest: String)

    /// The repository the route names, as written in the path (not yet validated).
    var repository: String? {
        switch self {
        case .base, .catalog: nil
        case .uploads(let name), .upload(let name, _), .blob(let name, _), .manifest(let name, _), .tags(let name),
            .referrers(let name, _):
            name
        }
    }

    /// The upload the route names, when it names a valid one.
    var upload: UploadID? {
        if case .upload(_, let id) = self { return UploadID(id) }
        return nil
    }

    /// What the route addresses, in a word, for the log (`PUT /v2 manifest`).
    var kind: String {
        switch self {
        case .base: "base"
        case .catalog: "catalog"
        case .uploads: "uploads"
        case .upload: "upload"
        case .blob: "blob"
        case .manifest: "manifest"
        case .tags: "tags"
        case .referrers: "referrers"
        }
    }

    /// Classifies a path that starts with `/v2`; `nil` when it addresses nothing.
    /// The last component is percent-decoded (clients may send `sha256%3A...`); the name is not.
    ///
    /// It works on the path's UTF-8 bytes (splitting a `String` by `Character` costs grapheme
    /// breaking, which was a seventh of a HEAD request's CPU) and makes a `String` only of the parts
    /// it returns.
    init?(path: String) {
        let bytes = path.utf8
        guard bytes.starts(with: "/v2".utf8) else { return nil }
        let rest = bytes.dropFirst(3)
        guard rest.isEmpty || rest.first == UInt8(ascii: "/") else { return nil }
        var parts = rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        if parts.first?.isEmpty == true { parts.removeFirst() }
        let trailingSlash = parts.last?.isEmpty == true
        if trailingSlash { parts.removeLast() }
        guard let lastPart = parts.last else {
            self = .base
            return
        }
        // Only the last component (a digest, reference or upload id) is percent-decoded: a
        // repository name is never decoded into another (`a%2Fb` is no name, not `a/b`).
        let raw = String(Substring(lastPart))
        let last = raw.removingPercentEncoding ?? raw
        let count = parts.count
        if count == 1 && last == "_catalog" {
            self = .catalog
            return
        }
        func name(dropping n: Int) -> String? {
            count > n ? String(Substring(bytes[parts[0].startIndex..<parts[count - n - 1].endIndex])) : nil
        }
        func previous(_ word: String, back: Int = 2) -> Bool {
            count >= back && parts[count - back].elementsEqual(word.utf8)
        }
        if previous("blobs") && last == "uploads", let name = name(dropping: 2) {
            self = .uploads(name)
        } else if trailingSlash {
            return nil
        } else if previous("uploads") && previous("blobs", back: 3), let name = name(dropping: 3) {
            self = .upload(name, id: last)
        } else if previous("blobs"), let name = name(dropping: 2) {
            self = .blob(name, digest: last)
        } else if previous("manifests"), let name = name(dropping: 2) {
            self = .manifest(name, reference: last)
        } else if previous("tags") && last == "list", let name = name(dropping: 2) {
            self = .tags(name)
        } else if previous("referrers"), let name = name(dropping: 2) {
            self = .referrers(name, digest: last)
        } else {
            return nil
        }
    }
}

extension String {
    /// Decodes `%XX` escapes; `nil` when an escape is malformed or the result is not UTF-8.
    var removingPercentEncoding: String? {
        guard utf8.contains(UInt8(ascii: "%")) else { return self }
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let c = iterator.next() {
            if c == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l)
                else {
                    return nil
                }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}
