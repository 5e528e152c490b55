import HashTreeCollections
import StowageCore

/// Writes a ``RegistryState`` as the same JSON `CanonicalJSONEncoder` (and so Foundation's
/// `JSONEncoder` with sorted keys) writes, by hand: every key of the state's types in its sorted
/// place, no intermediate tree, no dynamic casts.
///
/// Snapshots are the whole state, so their cost grows with the registry: through the generic
/// encoder a million images took 38 s of CPU, a third of it retain/release of the tree it built.
/// The types a large registry holds many of (repositories, images, manifests, descriptors, tags,
/// blob links, referrers) are written here; the ones it holds few of (settings, scans, uploads,
/// checkpoints, switches) go through the generic encoder, so that a field added to them cannot
/// be forgotten here. A test holds the two writers to the same bytes on generated states.
///
/// With a `sink`, the text is handed on in pieces of about `chunk` bytes as it is written (the
/// snapshot deflates them as they come), so the whole text is never in memory at once; with
/// `marks` too, the writer says where each scope's repositories begin and end and where each
/// repository ends, everything before the mark handed to the sink first (so that a snapshot
/// can cut its text there).
struct StateWriter: ~Copyable {
    /// A place in the text, told to `marks`.
    enum Mark {
        /// Just after the `{` of scope `Scope`'s `"repositories"` object.
        case repositoriesOpen(Scope)
        /// Before the repository `keys[index]` of `repositories` (and the `,` before it unless it
        /// is the first): `marks` answers how many repositories from it on to leave out of the
        /// text, because their text is had elsewhere (a snapshot reusing what it wrote before).
        case repository(index: Int, keys: [RepositoryName], repositories: TreeDictionary<RepositoryName, Repository>)
        /// Just after a repository's value, before the `,` of the next one.
        case repositoryEnd
        /// Just before the `}` that closes a scope's `"repositories"` object.
        case repositoriesClose
    }

    private(set) var output: [UInt8] = []
    private let sink: ((borrowing [UInt8]) -> Void)?
    private let marks: ((Mark) -> Int)?
    private let chunk: Int

    init(sink: ((borrowing [UInt8]) -> Void)? = nil, marks: ((Mark) -> Int)? = nil, chunk: Int = 1 << 20) {
        self.sink = sink
        self.marks = marks
        self.chunk = chunk
        output.reserveCapacity(sink == nil ? 4096 : chunk + chunk / 4)
    }

    /// Hands what is written so far to the sink, when there is one and enough has gathered.
    private mutating func drain(force: Bool = false) {
        guard let sink, !output.isEmpty, force || output.count >= chunk else { return }
        sink(output)
        output.removeAll(keepingCapacity: true)
    }

    /// Tells `marks` of `mark`, everything written before it handed on; returns its answer.
    @discardableResult
    private mutating func mark(_ mark: Mark) -> Int {
        guard let marks else { return 0 }
        drain(force: true)
        return marks(mark)
    }

    /// Writes the whole state; with a sink, the last piece is handed on too.
    mutating func write(_ state: RegistryState) throws {
        raw("{\"checkpoints\":")
        try generic(state.checkpoints)
        if let offset = state.clockOffset {
            raw(",\"clockOffset\":")
            integer(offset)
        }
        raw(",\"scopes\":")
        try object(state.scopes) { writer, key, scope in try writer.write(scope, key) }
        raw(",\"sequence\":")
        integer(state.sequence)
        if let switches = state.switches {
            raw(",\"switches\":")
            try generic(switches)
        }
        raw(",\"time\":")
        integer(state.time.millisecondsSinceEpoch)
        byte("}")
        drain(force: true)
    }

    /// Writes an export file's state: `{"scopes":{...}}`.
    mutating func write(scopes: TreeDictionary<Scope, ScopeState>) throws {
        raw("{\"scopes\":")
        try object(scopes) { writer, key, scope in try writer.write(scope, key) }
        byte("}")
        drain(force: true)
    }

    private mutating func write(_ scope: ScopeState, _ key: Scope) throws {
        byte("{")
        if let registry = scope.registry {
            raw("\"registry\":")
            try generic(registry)
            byte(",")
        }
        raw("\"repositories\":")
        try repositories(scope.repositories, of: key)
        raw(",\"uploads\":")
        try generic(scope.uploads)
        byte("}")
    }

    private mutating func write(_ repository: Repository) throws {
        raw("{\"blobs\":")
        object(repository.blobs) { writer, _, size in writer.integer(size) }
        raw(",\"createdAt\":")
        integer(repository.createdAt.millisecondsSinceEpoch)
        raw(",\"images\":")
        try object(repository.images) { writer, _, image in
            try writer.write(image)
            writer.drain()
        }
        raw(",\"name\":")
        validated(repository.name)
        raw(",\"referrers\":")
        object(repository.referrers) { writer, _, digests in writer.array(digests) { $0.validated($1) } }
        raw(",\"settings\":")
        try generic(repository.settings)
        raw(",\"tags\":")
        object(repository.tags) { writer, _, target in writer.validated(target.digest) }
        byte("}")
    }

    private mutating func write(_ image: Image) throws {
        byte("{")
        if let archived = image.archived {
            raw("\"archived\":")
            raw(archived ? "true" : "false")
            byte(",")
        }
        raw("\"manifest\":")
        write(image.manifest)
        raw(",\"pushedAt\":")
        integer(image.pushedAt.millisecondsSinceEpoch)
        if let scan = image.scan {
            raw(",\"scan\":")
            try generic(scan)
        }
        raw(",\"tags\":")
        array(image.sortedTags) { $0.validated($1) }
        byte("}")
    }

    private mutating func write(_ manifest: Manifest) {
        raw("{\"content\":")
        string(manifest.content)
        raw(",\"digest\":")
        validated(manifest.digest)
        raw(",\"mediaType\":")
        string(manifest.mediaType)
        raw(",\"references\":")
        let references = manifest.references
        raw("{\"annotations\":")
        let keys = references.annotations.keys.sorted(by: JSONText.precedes)
        byte("{")
        for (n, key) in keys.enumerated() {
            if n > 0 { byte(",") }
            string(key)
            byte(":")
            string(references.annotations[key]!)
        }
        byte("}")
        if let artifactType = references.artifactType {
            raw(",\"artifactType\":")
            string(artifactType)
        }
        if let config = references.config {
            raw(",\"config\":")
            write(config)
        }
        raw(",\"layers\":")
        array(references.layers) { $0.write($1) }
        raw(",\"manifests\":")
        array(references.manifests) { $0.write($1) }
        if let subject = references.subject {
            raw(",\"subject\":")
            validated(subject)
        }
        raw("}}")
    }

    private mutating func write(_ descriptor: StowageCore.Descriptor) {
        byte("{")
        if let artifactType = descriptor.artifactType {
            raw("\"artifactType\":")
            string(artifactType)
            byte(",")
        }
        raw("\"digest\":")
        validated(descriptor.digest)
        raw(",\"mediaType\":")
        string(descriptor.mediaType)
        raw(",\"size\":")
        integer(descriptor.size)
        byte("}")
    }

    // MARK: Log records

    /// Writes a log record as the generic encoder does; the commands every push logs (blob
    /// uploads and manifests) by hand, the others through the generic encoder.
    mutating func write(_ record: LogRecord) throws {
        byte("{")
        if let cause = record.cause {
            raw("\"cause\":")
            try generic(cause)
            byte(",")
        }
        let envelope = record.envelope
        raw("\"envelope\":{\"command\":")
        try write(envelope.command)
        raw(",\"scope\":")
        validated(envelope.scope)
        raw(",\"sequence\":")
        integer(envelope.sequence)
        raw(",\"time\":")
        integer(envelope.time.millisecondsSinceEpoch)
        byte("}")
        if let origin = record.origin {
            raw(",\"origin\":")
            string(origin)
        }
        if let refusal = record.refusal {
            raw(",\"refusal\":")
            try generic(refusal)
        }
        byte("}")
    }

    private mutating func write(_ command: Command) throws {
        switch command {
        case .putBlob(let repository, let digest, let size):
            raw("{\"putBlob\":{\"digest\":")
            validated(digest)
            raw(",\"repository\":")
            validated(repository)
            raw(",\"size\":")
            integer(size)
        case .putManifest(let repository, let manifest, let tag, let options):
            raw("{\"putManifest\":{\"manifest\":")
            write(manifest)
            if let options {
                raw(",\"options\":")
                try generic(options)
            }
            raw(",\"repository\":")
            validated(repository)
            if let tag {
                raw(",\"tag\":")
                validated(tag)
            }
        case .startUpload(let id, let repository):
            raw("{\"startUpload\":{\"id\":")
            validated(id)
            raw(",\"repository\":")
            validated(repository)
        case .appendChunk(let upload, let repository, let offset, let length):
            raw("{\"appendChunk\":{\"length\":")
            integer(length)
            raw(",\"offset\":")
            integer(offset)
            raw(",\"repository\":")
            validated(repository)
            raw(",\"upload\":")
            validated(upload)
        case .commitUpload(let upload, let repository, let claimed, let computed, let size, let layerRules):
            raw("{\"commitUpload\":{\"claimed\":")
            validated(claimed)
            raw(",\"computed\":")
            validated(computed)
            if let layerRules {
                raw(",\"layerRules\":")
                try generic(layerRules)
            }
            raw(",\"repository\":")
            validated(repository)
            raw(",\"size\":")
            integer(size)
            raw(",\"upload\":")
            validated(upload)
        default:
            try generic(command)
            return
        }
        raw("}}")
    }

    // MARK: Pieces

    /// A dictionary keyed by validated strings, as a JSON object in byte order of its keys.
    private mutating func object<Key: ValidatedString, Value>(
        _ dictionary: TreeDictionary<Key, Value>, _ value: (inout Self, Key, Value) throws -> Void
    ) rethrows {
        // Validated strings are ASCII by their grammars, where `String`'s order is byte order:
        // its comparison of two ASCII strings is a memcmp, with no copies and no retains.
        // (`ValidatedString`'s `<` is its text's.)
        var keys = Array(dictionary.keys)
        keys.sort()
        byte("{")
        for (n, key) in keys.enumerated() {
            if n > 0 { byte(",") }
            validated(key)
            byte(":")
            try value(&self, key, dictionary[key]!)
        }
        byte("}")
    }

    /// A scope's repositories, as ``object(_:_:)`` writes them, each told to `marks` (which may
    /// leave runs of them out).
    private mutating func repositories(
        _ repositories: TreeDictionary<RepositoryName, Repository>, of scope: Scope
    ) throws {
        var keys = Array(repositories.keys)
        keys.sort()
        byte("{")
        mark(.repositoriesOpen(scope))
        var n = 0
        while n < keys.count {
            let left = mark(.repository(index: n, keys: keys, repositories: repositories))
            if left > 0 {
                n += left
                continue
            }
            if n > 0 { byte(",") }
            validated(keys[n])
            byte(":")
            try write(repositories[keys[n]]!)
            mark(.repositoryEnd)
            n += 1
        }
        mark(.repositoriesClose)
        byte("}")
    }

    private mutating func array<Element>(_ elements: [Element], _ write: (inout Self, Element) -> Void) {
        byte("[")
        for (n, element) in elements.enumerated() {
            if n > 0 { byte(",") }
            write(&self, element)
        }
        byte("]")
    }

    /// A value the generic encoder writes: the rare parts of the state.
    private mutating func generic(_ value: some Encodable) throws {
        output.append(contentsOf: try CanonicalJSONEncoder().encode(value))
    }

    private mutating func string(_ text: String) { JSONText.appendString(text, to: &output) }

    /// A validated string, written from what it holds (a digest from its bytes).
    private mutating func validated(_ value: some ValidatedString) { value.appendJSON(to: &output) }

    private mutating func integer(_ value: Int64) {
        if value < 0 {
            byte("-")
            unsigned(value.magnitude)
        } else {
            unsigned(UInt64(value))
        }
    }

    private mutating func integer(_ value: UInt64) { unsigned(value) }

    private mutating func unsigned(_ value: UInt64) {
        guard value >= 10 else {
            output.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 20 digits at most, written backwards
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            output.append(contentsOf: buffer[(24 - count)..<24])
        }
    }

    private mutating func byte(_ character: Unicode.Scalar) { output.append(UInt8(character.value)) }

    private mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { output.append(contentsOf: $0) }
    }
}
