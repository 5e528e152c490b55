import FoundationEssentials
import Glibc
import HashTreeCollections
import StowageCore

/// Reads the JSON ``StateWriter`` writes back into a ``RegistryState``, by hand, as strictly as
/// `JSONDecoder` does: every required member present, every validated string validated, every
/// string checked as UTF-8. The rare parts of the state (settings, scans, uploads, checkpoints,
/// switches) are handed to `JSONDecoder`, as the writer hands them to the generic encoder.
///
/// `JSONDecoder` took ~28 µs an image, so a restart with a million images took 40 s. Reading also
/// shares what a large state repeats: media types are interned (a digest holds its bytes, so
/// it needs no sharing).
struct StateReader: ~Copyable {
    /// Why the text is not a state.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private var parser: JSONParser
    private var interned: [String] = []
    /// A scope whose repositories take more bytes than this reads them on every core.
    private let parallelAbove: Int
    /// Reading a snapshot's frame: the repositories of each repositories object in turn, read
    /// already from their own segments (the frame's own must be empty), and how many were met.
    private var given: [TreeDictionary<RepositoryName, Repository>]?
    private var repositoriesMet = 0
    /// Reading a log record: a key met twice in one object, or spelled with an escape, is refused
    /// (`JSONDecoder` would read the first of two where this reader reads the last; the record
    /// goes to `JSONDecoder` instead).
    private var plainKeysOnce = false

    private init(_ buffer: UnsafeBufferPointer<UInt8>, parallelAbove: Int) {
        parser = JSONParser(bytes: buffer)
        self.parallelAbove = parallelAbove
    }

    /// Repositories in more bytes than this are read on every core (a few MiB: below, starting
    /// the threads costs more than it saves).
    static let parallelThreshold = 4 << 20

    /// The state `bytes` hold, which must be one JSON object and nothing else.
    static func read(_ bytes: some Collection<UInt8>, parallelAbove: Int = parallelThreshold) throws -> RegistryState {
        try whole(bytes, parallelAbove: parallelAbove) { try $0.state() }
    }

    /// The state a snapshot's frame holds, its n-th repositories object (empty in the frame) being
    /// `repositories[n]`, or none past their end.
    static func read(frame: [UInt8], repositories: [TreeDictionary<RepositoryName, Repository>]) throws
        -> RegistryState
    {
        try whole(frame, parallelAbove: parallelThreshold) { reader in
            reader.given = repositories
            let state = try reader.state()
            guard reader.repositoriesMet >= repositories.count else {
                throw Failure(
                    description:
                        "the segments hold repositories of \(repositories.count) scopes, the frame only \(reader.repositoriesMet)"
                )
            }
            return state
        }
    }

    /// The repositories in a unit of a snapshot's segments, `"name":{...},"name":{...}`, each
    /// after a comma unless it is the `first` of its repositories object.
    static func readRepositories(_ bytes: UnsafeBufferPointer<UInt8>, first: Bool) throws
        -> [(RepositoryName, Repository)]
    {
        var reader = StateReader(bytes, parallelAbove: .max)
        var repositories: [(RepositoryName, Repository)] = []
        var comma = !first
        repeat {
            if comma { try reader.parser.expect(UInt8(ascii: ","), "','") }
            reader.parser.skipWhitespace()
            let text = try reader.string()
            guard let name = RepositoryName(text) else { throw Failure(description: "invalid RepositoryName: \(text)") }
            try reader.parser.expect(UInt8(ascii: ":"), "':'")
            reader.parser.skipWhitespace()
            repositories.append((name, try reader.repository()))
            reader.parser.skipWhitespace()
            comma = true
        } while reader.parser.index < bytes.count
        return repositories
    }

    /// The scopes of an export file's state, `{"scopes":{...}}`.
    static func readScopes(_ bytes: some Collection<UInt8>) throws -> TreeDictionary<Scope, ScopeState> {
        try whole(bytes, parallelAbove: parallelThreshold) { reader in
            var scopes: TreeDictionary<Scope, ScopeState>?
            try reader.members { reader, key in
                if case "scopes" = key {
                    scopes = try reader.dictionary(Scope.self) { try $0.scope() }
                } else {
                    try reader.skip()
                }
            }
            guard let scopes else { throw Failure(description: "the registry lacks scopes") }
            return scopes
        }
    }

    /// A log record, as `JSONDecoder` reads it. The commands every push logs (those ``StateWriter``
    /// writes by hand) are read by hand; any other command, a cause and a refusal by `JSONDecoder`.
    /// Whatever the hand reading does not take, `JSONDecoder` reads the whole record again, so it
    /// alone decides what is refused and why. (Restart replays every record after the snapshot:
    /// through `JSONDecoder` each took ~30 µs, four times what applying it takes.)
    static func readRecord(_ bytes: some Collection<UInt8>) throws -> LogRecord {
        if let record = try? readRecordByHand(bytes) { return record }
        return try StateCodec.decode(LogRecord.self, from: bytes)
    }

    /// A log record whose command is one read by hand; throws for any other.
    static func readRecordByHand(_ bytes: some Collection<UInt8>) throws -> LogRecord {
        try whole(bytes, parallelAbove: .max) { reader in
            reader.plainKeysOnce = true
            return try reader.record()
        }
    }

    /// What `body` reads from `bytes`, which must hold it and nothing else.
    private static func whole<Value>(
        _ bytes: some Collection<UInt8>, parallelAbove: Int, _ body: (inout StateReader) throws -> Value
    ) throws -> Value {
        func read(_ buffer: UnsafeBufferPointer<UInt8>) throws -> Value {
            var reader = StateReader(buffer, parallelAbove: parallelAbove)
            reader.parser.skipWhitespace()
            let value = try body(&reader)
            reader.parser.skipWhitespace()
            guard reader.parser.index == buffer.count else {
                throw reader.parser.error("unexpected data after the state")
            }
            return value
        }
        if let value = try bytes.withContiguousStorageIfAvailable(read) { return value }
        return try Array(bytes).withUnsafeBufferPointer(read)
    }

    private mutating func state() throws -> RegistryState {
        var state = RegistryState()
        var seen = (sequence: false, time: false, scopes: false, checkpoints: false)
        try members { reader, key in
            switch key {
            case "sequence":
                state.sequence = try reader.unsigned()
                seen.sequence = true
            case "time":
                state.time = Timestamp(millisecondsSinceEpoch: try reader.integer())
                seen.time = true
            case "scopes":
                state.scopes = try reader.dictionary(Scope.self) { try $0.scope() }
                seen.scopes = true
            case "checkpoints":
                state.checkpoints = try reader.generic(TreeDictionary<CheckpointName, Checkpoint>.self)
                seen.checkpoints = true
            case "clockOffset": state.clockOffset = try reader.optional { try $0.integer() }
            case "switches": state.switches = try reader.optional { try $0.generic(Switches.self) }
            default: try reader.skip()
            }
        }
        try require(seen.sequence, "sequence", of: "the state")
        try require(seen.time, "time", of: "the state")
        try require(seen.scopes, "scopes", of: "the state")
        try require(seen.checkpoints, "checkpoints", of: "the state")
        return state
    }

    private mutating func scope() throws -> ScopeState {
        var scope = ScopeState()
        var seen = (repositories: false, uploads: false)
        try members { reader, key in
            switch key {
            case "repositories":
                scope.repositories = try reader.given == nil ? reader.repositories() : reader.givenRepositories()
                seen.repositories = true
            case "uploads":
                scope.uploads = try reader.generic(TreeDictionary<UploadID, Upload>.self)
                seen.uploads = true
            case "registry": scope.registry = try reader.optional { try $0.generic(RegistrySettings.self) }
            default: try reader.skip()
            }
        }
        try require(seen.repositories, "repositories", of: "a scope")
        try require(seen.uploads, "uploads", of: "a scope")
        return scope
    }

    /// A scope's repositories. Each member's value is found by a structural skip, then read
    /// strictly from its own bytes, which must be exactly the value: when they are many, on every
    /// core, each thread a run of repositories (a repository's reading needs nothing outside it).
    private mutating func repositories() throws -> TreeDictionary<RepositoryName, Repository> {
        var names: [RepositoryName] = []
        var spans: [Range<Int>] = []
        try members { reader, key in
            let text = key.text
            guard let name = RepositoryName(text) else { throw Failure(description: "invalid RepositoryName: \(text)") }
            let start = reader.parser.index
            try reader.parser.skipValue()
            names.append(name)
            spans.append(start..<reader.parser.index)
        }
        guard let first = spans.first?.lowerBound, let last = spans.last?.upperBound else { return [:] }
        let threads = last - first > parallelAbove ? Parallel.cores : 1
        let runs = Parallel.runs(spans.map(\.count), threads: threads)
        // The text outlives the threads: `Parallel.perform` returns when every run is read.
        nonisolated(unsafe) let buffer = parser.bytes
        let (parallelAbove, runSpans) = (parallelAbove, spans)
        let read = Parallel.perform(runs.count) { run -> Result<[Repository], any Error> in
            var reader = StateReader(buffer, parallelAbove: parallelAbove)
            return Result {
                try runSpans[runs[run]].map { span in
                    reader.parser.index = span.lowerBound
                    let repository = try reader.repository()
                    guard reader.parser.index == span.upperBound else {
                        throw reader.parser.error("unexpected data after a repository")
                    }
                    return repository
                }
            }
        }
        var result: TreeDictionary<RepositoryName, Repository> = [:]
        var index = 0
        for run in read {
            for repository in try run.get() {
                result[names[index]] = repository
                index += 1
            }
        }
        return result
    }

    /// The next of the repositories read from a snapshot's own segments; the frame's object must
    /// be empty.
    private mutating func givenRepositories() throws -> TreeDictionary<RepositoryName, Repository> {
        try members { _, key in throw Failure(description: "a snapshot's frame holds a repository: \(key.text)") }
        defer { repositoriesMet += 1 }
        return repositoriesMet < given!.count ? given![repositoriesMet] : [:]
    }

    private mutating func repository() throws -> Repository {
        var name: RepositoryName?
        var createdAt: Timestamp?
        var settings: RepositorySettings?
        var images: TreeDictionary<Digest, Image>?
        var tags: TreeDictionary<Tag, Digest>?
        var blobs: TreeDictionary<Digest, Int64>?
        var referrers: TreeDictionary<Digest, [Digest]>?
        try members { reader, key in
            switch key {
            case "name": name = try reader.validated(RepositoryName.self)
            case "createdAt": createdAt = Timestamp(millisecondsSinceEpoch: try reader.integer())
            case "settings": settings = try reader.generic(RepositorySettings.self)
            case "blobs": blobs = try reader.dictionary(Digest.self) { try $0.integer() }
            case "images":
                images = try reader.dictionary(Digest.self) { reader, _ in try reader.image() }
            case "tags":
                tags = try reader.dictionary(Tag.self) { try $0.validated(Digest.self) }
            case "referrers":
                referrers = try reader.dictionary(Digest.self) { try $0.array { try $0.validated(Digest.self) } }
            default: try reader.skip()
            }
        }
        guard let name, let createdAt, let settings, let images, let tags, let blobs, let referrers else {
            throw Failure(
                description: "a repository lacks one of name, createdAt, settings, images, tags, blobs, referrers")
        }
        var repository = Repository(name: name, createdAt: createdAt, settings: settings)
        repository.images = images
        do { repository.tags = try Repository.targets(of: tags, in: images) } catch {
            throw Failure(description: "repository \(name): \(error)")
        }
        repository.blobs = blobs
        repository.referrers = referrers
        return repository
    }

    private mutating func image() throws -> Image {
        var manifest: Manifest?
        var pushedAt: Timestamp?
        var tags: [Tag]?
        var scan: ImageScan?
        var archived: Bool?
        try members { reader, key in
            switch key {
            case "manifest": manifest = try reader.manifest()
            case "pushedAt": pushedAt = Timestamp(millisecondsSinceEpoch: try reader.integer())
            case "tags": tags = try reader.array { try $0.validated(Tag.self) }
            case "scan": scan = try reader.optional { try $0.generic(ImageScan.self) }
            case "archived": archived = try reader.optional { try $0.bool() }
            default: try reader.skip()
            }
        }
        guard let manifest, let pushedAt, let tags else {
            throw Failure(description: "an image lacks one of manifest, pushedAt, tags")
        }
        var image = Image(manifest: manifest, pushedAt: pushedAt, tags: tags)
        image.scan = scan
        image.archived = archived
        return image
    }

    private mutating func manifest() throws -> Manifest {
        var digest: Digest?
        var mediaType: String?
        var content: String?
        var references: ManifestReferences?
        try members { reader, key in
            switch key {
            case "digest": digest = try reader.validated(Digest.self)
            case "mediaType": mediaType = try reader.internedString()
            case "content": content = try reader.string()
            case "references": references = try reader.references()
            default: try reader.skip()
            }
        }
        guard let digest, let mediaType, let content, let references else {
            throw Failure(description: "a manifest lacks one of digest, mediaType, content, references")
        }
        return Manifest(digest: digest, mediaType: mediaType, content: content, references: references)
    }

    private mutating func references() throws -> ManifestReferences {
        var references = ManifestReferences()
        var seen = (layers: false, manifests: false, annotations: false)
        try members { reader, key in
            switch key {
            case "config": references.config = try reader.optional { try $0.descriptor() }
            case "layers":
                references.layers = try reader.array { try $0.descriptor() }
                seen.layers = true
            case "manifests":
                references.manifests = try reader.array { try $0.descriptor() }
                seen.manifests = true
            case "subject": references.subject = try reader.optional { try $0.validated(Digest.self) }
            case "artifactType": references.artifactType = try reader.optional { try $0.internedString() }
            case "annotations":
                var annotations: [String: String] = [:]
                try reader.members { reader, key in annotations[key.text] = try reader.string() }
                references.annotations = annotations
                seen.annotations = true
            default: try reader.skip()
            }
        }
        try require(seen.layers, "layers", of: "a manifest's references")
        try require(seen.manifests, "manifests", of: "a manifest's references")
        try require(seen.annotations, "annotations", of: "a manifest's references")
        return references
    }

    private mutating func descriptor() throws -> StowageCore.Descriptor {
        var mediaType: String?
        var digest: Digest?
        var size: Int64?
        var artifactType: String?
        try members { reader, key in
            switch key {
            case "mediaType": mediaType = try reader.internedString()
            case "digest": digest = try reader.validated(Digest.self)
            case "size": size = try reader.integer()
            case "artifactType": artifactType = try reader.optional { try $0.internedString() }
            default: try reader.skip()
            }
        }
        guard let mediaType, let digest, let size else {
            throw Failure(description: "a descriptor lacks one of mediaType, digest, size")
        }
        return StowageCore.Descriptor(mediaType: mediaType, digest: digest, size: size, artifactType: artifactType)
    }

    // MARK: Log records

    private mutating func record() throws -> LogRecord {
        var envelope: Envelope?
        var record = (refusal: RegistryError?.none, cause: RecordCause?.none, origin: String?.none)
        try members { reader, key in
            switch key {
            case "envelope": envelope = try reader.envelope()
            case "refusal": record.refusal = try reader.optional { try $0.generic(RegistryError.self) }
            case "cause": record.cause = try reader.optional { try $0.generic(RecordCause.self) }
            case "origin": record.origin = try reader.optional { try $0.string() }
            default: try reader.skip()
            }
        }
        guard let envelope else { throw Failure(description: "a log record lacks envelope") }
        return LogRecord(envelope: envelope, refusal: record.refusal, cause: record.cause, origin: record.origin)
    }

    private mutating func envelope() throws -> Envelope {
        var sequence: UInt64?
        var time: Int64?
        var scope: Scope?
        var command: Command?
        try members { reader, key in
            switch key {
            case "sequence": sequence = try reader.unsigned()
            case "time": time = try reader.integer()
            case "scope": scope = try reader.validated(Scope.self)
            case "command": command = try reader.command()
            default: try reader.skip()
            }
        }
        guard let sequence, let time, let scope, let command else {
            throw Failure(description: "an envelope lacks one of sequence, time, scope, command")
        }
        return Envelope(
            sequence: sequence, time: Timestamp(millisecondsSinceEpoch: time), scope: scope, command: command)
    }

    /// A command written by hand (its one key names it); any other fails, for `JSONDecoder`.
    private mutating func command() throws -> Command {
        var command: Command?
        var keys = 0
        try members { reader, key in
            keys += 1
            switch key {
            case "putBlob": command = try reader.putBlob()
            case "putManifest": command = try reader.putManifest()
            case "startUpload": command = try reader.startUpload()
            case "appendChunk": command = try reader.appendChunk()
            case "commitUpload": command = try reader.commitUpload()
            default: throw Failure(description: "a command not read by hand")
            }
        }
        guard keys == 1, let command else { throw Failure(description: "a command has one key") }
        return command
    }

    private mutating func putBlob() throws -> Command {
        var (repository, digest, size) = (RepositoryName?.none, Digest?.none, Int64?.none)
        try members { reader, key in
            switch key {
            case "repository": repository = try reader.validated(RepositoryName.self)
            case "digest": digest = try reader.validated(Digest.self)
            case "size": size = try reader.integer()
            default: try reader.skip()
            }
        }
        guard let repository, let digest, let size else { throw Failure(description: "putBlob lacks a member") }
        return .putBlob(repository: repository, digest: digest, size: size)
    }

    private mutating func putManifest() throws -> Command {
        var (repository, manifest) = (RepositoryName?.none, Manifest?.none)
        var (tag, options) = (Tag?.none, PutManifestOptions?.none)
        try members { reader, key in
            switch key {
            case "repository": repository = try reader.validated(RepositoryName.self)
            case "manifest": manifest = try reader.manifest()
            case "tag": tag = try reader.optional { try $0.validated(Tag.self) }
            case "options": options = try reader.optional { try $0.generic(PutManifestOptions.self) }
            default: try reader.skip()
            }
        }
        guard let repository, let manifest else { throw Failure(description: "putManifest lacks a member") }
        return .putManifest(repository: repository, manifest: manifest, tag: tag, options: options)
    }

    private mutating func startUpload() throws -> Command {
        var (id, repository) = (UploadID?.none, RepositoryName?.none)
        try members { reader, key in
            switch key {
            case "id": id = try reader.validated(UploadID.self)
            case "repository": repository = try reader.validated(RepositoryName.self)
            default: try reader.skip()
            }
        }
        guard let id, let repository else { throw Failure(description: "startUpload lacks a member") }
        return .startUpload(id: id, repository: repository)
    }

    private mutating func appendChunk() throws -> Command {
        var (upload, repository) = (UploadID?.none, RepositoryName?.none)
        var (offset, length) = (Int64?.none, Int64?.none)
        try members { reader, key in
            switch key {
            case "upload": upload = try reader.validated(UploadID.self)
            case "repository": repository = try reader.validated(RepositoryName.self)
            case "offset": offset = try reader.integer()
            case "length": length = try reader.integer()
            default: try reader.skip()
            }
        }
        guard let upload, let repository, let offset, let length else {
            throw Failure(description: "appendChunk lacks a member")
        }
        return .appendChunk(upload: upload, repository: repository, offset: offset, length: length)
    }

    private mutating func commitUpload() throws -> Command {
        var (upload, repository) = (UploadID?.none, RepositoryName?.none)
        var (claimed, computed, size) = (Digest?.none, Digest?.none, Int64?.none)
        var layerRules: LayerUploadRules?
        try members { reader, key in
            switch key {
            case "upload": upload = try reader.validated(UploadID.self)
            case "repository": repository = try reader.validated(RepositoryName.self)
            case "claimed": claimed = try reader.validated(Digest.self)
            case "computed": computed = try reader.validated(Digest.self)
            case "size": size = try reader.integer()
            case "layerRules": layerRules = try reader.optional { try $0.generic(LayerUploadRules.self) }
            default: try reader.skip()
            }
        }
        guard let upload, let repository, let claimed, let computed, let size else {
            throw Failure(description: "commitUpload lacks a member")
        }
        return .commitUpload(
            upload: upload, repository: repository, claimed: claimed, computed: computed, size: size,
            layerRules: layerRules)
    }

    // MARK: Pieces

    /// Whether two runs of bytes are the same (`elementsEqual` compares them a byte at a time).
    private static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }

    private func require(_ present: Bool, _ key: String, of what: String) throws {
        if !present { throw Failure(description: "\(what) lacks \(key)") }
    }

    private var next: UInt8? { parser.index < parser.bytes.count ? parser.bytes[parser.index] : nil }

    /// An object's key as the reader met it: its bytes when they are plain ASCII with no escape
    /// (every key the writer writes), else its decoded text. Matched against the names the
    /// reader knows without making a string of it.
    private struct MemberKey {
        let bytes: UnsafeBufferPointer<UInt8>?
        let decoded: String?

        var text: String { decoded ?? String(decoding: bytes!, as: UTF8.self) }

        static func ~= (name: StaticString, key: MemberKey) -> Bool {
            let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            if let bytes = key.bytes { return StateReader.same(UnsafeRawBufferPointer(bytes), expected) }
            return key.decoded!.utf8.elementsEqual(expected)
        }
    }

    /// Calls `body` with each key of an object, the reader standing at the key's value.
    private mutating func members(_ body: (inout Self, MemberKey) throws -> Void) throws {
        try parser.expect(UInt8(ascii: "{"), "'{'")
        parser.skipWhitespace()
        if next == UInt8(ascii: "}") {
            parser.index += 1
            return
        }
        var met: [UnsafeBufferPointer<UInt8>] = []
        while true {
            parser.skipWhitespace()
            guard next == UInt8(ascii: "\"") else { throw parser.error("expected a key") }
            let key =
                if let bytes = parser.plainString() {
                    MemberKey(bytes: bytes, decoded: nil)
                } else {
                    MemberKey(bytes: nil, decoded: try parser.string())
                }
            if plainKeysOnce {
                guard let bytes = key.bytes,
                    !met.contains(where: { Self.same(UnsafeRawBufferPointer($0), UnsafeRawBufferPointer(bytes)) })
                else { throw Failure(description: "a key escaped or twice in one object") }
                met.append(bytes)
            }
            try parser.expect(UInt8(ascii: ":"), "':'")
            parser.skipWhitespace()
            try body(&self, key)
            parser.skipWhitespace()
            switch next {
            case UInt8(ascii: ","): parser.index += 1
            case UInt8(ascii: "}"):
                parser.index += 1
                return
            default: throw parser.error("expected ',' or '}'")
            }
        }
    }

    private mutating func array<Element>(_ element: (inout Self) throws -> Element) throws -> [Element] {
        try parser.expect(UInt8(ascii: "["), "'['")
        var elements: [Element] = []
        parser.skipWhitespace()
        if next == UInt8(ascii: "]") {
            parser.index += 1
            return elements
        }
        while true {
            parser.skipWhitespace()
            elements.append(try element(&self))
            parser.skipWhitespace()
            switch next {
            case UInt8(ascii: ","): parser.index += 1
            case UInt8(ascii: "]"):
                parser.index += 1
                return elements
            default: throw parser.error("expected ',' or ']'")
            }
        }
    }

    /// An object keyed by validated strings.
    private mutating func dictionary<Key: ValidatedString, Value>(
        _ key: Key.Type, _ value: (inout Self, Key) throws -> Value
    ) throws -> TreeDictionary<Key, Value> {
        var result: TreeDictionary<Key, Value> = [:]
        try members { reader, name in
            guard let key = name.bytes.map({ Key(utf8: $0) }) ?? Key(name.text) else {
                throw Failure(description: "invalid \(Key.self): \(name.text)")
            }
            result[key] = try value(&reader, key)
        }
        return result
    }

    private mutating func dictionary<Key: ValidatedString, Value>(
        _ key: Key.Type, _ value: (inout Self) throws -> Value
    ) throws -> TreeDictionary<Key, Value> {
        try dictionary(key) { reader, _ in try value(&reader) }
    }

    /// `nil` for a JSON `null`, else the value.
    private mutating func optional<Value>(_ value: (inout Self) throws -> Value) throws -> Value? {
        if next == UInt8(ascii: "n") {
            _ = try parser.value(depth: 0)
            return nil
        }
        return try value(&self)
    }

    private mutating func skip() throws { _ = try parser.value(depth: 0) }

    /// A part of the state that `JSONDecoder` reads.
    private mutating func generic<Value: Decodable>(_ type: Value.Type) throws -> Value {
        let start = parser.index
        _ = try parser.value(depth: 0)
        let text = UnsafeBufferPointer(rebasing: parser.bytes[start..<parser.index])
        return try JSONDecoder().decode(type, from: Data(buffer: text))
    }

    private mutating func string() throws -> String {
        guard next == UInt8(ascii: "\"") else { throw parser.error("expected a string") }
        return try parser.string()
    }

    /// A string the state repeats (a media type): one copy for all its occurrences, found by its
    /// bytes among the few the state holds, so an occurrence makes no string of its own.
    private mutating func internedString() throws -> String {
        guard next == UInt8(ascii: "\"") else { throw parser.error("expected a string") }
        if let bytes = parser.plainString() {
            for known in interned where known.utf8.count == bytes.count {
                let found = known.utf8.withContiguousStorageIfAvailable {
                    Self.same(UnsafeRawBufferPointer($0), UnsafeRawBufferPointer(bytes))
                }
                if found ?? false { return known }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if interned.count < Self.mostInterned { interned.append(text) }
            return text
        }
        return try parser.string()
    }

    /// How many strings ``internedString()`` keeps: a state has a handful of media types; a
    /// state that somehow has thousands gets one copy of each of the first few.
    private static let mostInterned = 64

    private mutating func validated<Value: ValidatedString>(_ type: Value.Type) throws -> Value {
        if next == UInt8(ascii: "\""), let bytes = parser.plainString() {
            guard let value = Value(utf8: bytes) else {
                throw Failure(description: "invalid \(Value.self): \(String(decoding: bytes, as: UTF8.self))")
            }
            return value
        }
        let text = try string()
        guard let value = Value(text) else { throw Failure(description: "invalid \(Value.self): \(text)") }
        return value
    }

    private mutating func bool() throws -> Bool {
        switch try parser.value(depth: 0) {
        case .bool(let value): return value
        default: throw parser.error("expected true or false")
        }
    }

    /// A JSON integer in `Int64`.
    private mutating func integer() throws -> Int64 {
        let negative = next == UInt8(ascii: "-")
        if negative { parser.index += 1 }
        let magnitude = try digits()
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw parser.error("a number out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw parser.error("a number out of range") }
        return Int64(magnitude)
    }

    private mutating func unsigned() throws -> UInt64 { try digits() }

    /// The digits of a JSON integer (no leading zero, no fraction or exponent).
    private mutating func digits() throws -> UInt64 {
        let start = parser.index
        var value: UInt64 = 0
        while let byte = next, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw parser.error("a number out of range") }
            value = sum
            parser.index += 1
        }
        let count = parser.index - start
        guard count > 0 else { throw parser.error("expected an integer") }
        guard count == 1 || parser.bytes[start] != UInt8(ascii: "0") else {
            throw parser.error("a number with a leading zero")
        }
        if let byte = next, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            throw parser.error("expected an integer")
        }
        return value
    }
}
