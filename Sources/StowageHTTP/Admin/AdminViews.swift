import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// A log record as the admin API shows it.
struct RecordView: Encodable {
    var sequence: UInt64
    var time: String
    var account: String
    var region: String
    var kind: String
    var repository: String?
    var upload: String?
    var applied: Bool
    var refusal: String?
    /// For a reaction (a scan on push, a replicated copy, a lifecycle expiry): the record it follows, and why.
    var follows: Follows?
    /// What asked for it (`ECR PutImage`, `PUT /v2 manifest`, `admin POST /import`).
    var via: String?
    /// The record in a line: what changed, with digests, tags and values.
    var summary: String
    var command: Command

    struct Follows: Encodable {
        var sequence: UInt64
        var reaction: String
    }

    init(_ record: LogRecord) {
        let envelope = record.envelope
        sequence = envelope.sequence
        time = RFC3339.format(envelope.time)
        account = envelope.scope.account.rawValue
        region = envelope.scope.region.rawValue
        kind = envelope.command.kind
        repository = envelope.command.repository?.rawValue
        upload = envelope.command.upload?.rawValue
        applied = record.refusal == nil
        refusal = record.refusal?.description
        follows = record.cause.map { Follows(sequence: $0.trigger, reaction: $0.reaction.rawValue) }
        via = record.origin
        summary = record.summary
        command = envelope.command
    }
}

/// The registry as the admin API shows it: readable, without manifest bodies.
struct StateView: Encodable {
    struct Registry: Encodable {
        var account: String
        var region: String
        var repositories: [RepositoryView]
        var uploads: [UploadView]
    }

    struct RepositoryView: Encodable {
        var name: String
        var createdAt: String
        var tagMutability: String
        var images: [ImageView]
        var tags: [String: String]
        var blobs: [String: Int64]
    }

    struct ImageView: Encodable {
        var digest: String
        var mediaType: String
        var size: Int64
        var pushedAt: String
        var tags: [String]
        var subject: String?
        var artifactType: String?
        /// The manifest's exact text, with `?manifests=true`.
        var manifest: String?
    }

    struct UploadView: Encodable {
        var id: String
        var repository: String
        var startedAt: String
        var size: Int64
        var chunks: Int
    }

    struct CheckpointView: Encodable {
        var name: String
        var sequence: UInt64
        var time: String
    }

    var sequence: UInt64
    var time: String
    var registries: [Registry]
    var checkpoints: [CheckpointView]

    init(_ state: RegistryState, sequence: UInt64, manifests: Bool = false) {
        self.sequence = sequence
        time = RFC3339.format(state.time)
        registries = state.scopes.sorted { $0.key < $1.key }.map { scope, scoped in
            Registry(
                account: scope.account.rawValue, region: scope.region.rawValue,
                repositories: scoped.repositories.values.sorted { $0.name < $1.name }.map {
                    RepositoryView($0, manifests: manifests)
                },
                uploads: scoped.uploads.values.sorted { $0.id < $1.id }.map(UploadView.init))
        }
        checkpoints = state.checkpoints.values.sorted { $0.sequence < $1.sequence }.map {
            CheckpointView(name: $0.name.rawValue, sequence: $0.sequence, time: RFC3339.format($0.time))
        }
    }
}

extension StateView.RepositoryView {
    init(_ repository: Repository, manifests: Bool) {
        name = repository.name.rawValue
        createdAt = RFC3339.format(repository.createdAt)
        tagMutability = repository.settings.tagMutability.rawValue
        images = repository.images.values.sorted {
            $0.pushedAt == $1.pushedAt ? $0.digest < $1.digest : $0.pushedAt < $1.pushedAt
        }
        .map { image in
            StateView.ImageView(
                digest: image.digest.rawValue, mediaType: image.manifest.mediaType, size: image.manifest.size,
                pushedAt: RFC3339.format(image.pushedAt), tags: image.sortedTags.map(\.rawValue),
                subject: image.manifest.references.subject?.rawValue, artifactType: image.artifactType,
                manifest: manifests ? image.manifest.content : nil)
        }
        tags = Dictionary(uniqueKeysWithValues: repository.tags.map { ($0.key.rawValue, $0.value.digest.rawValue) })
        blobs = Dictionary(uniqueKeysWithValues: repository.blobs.map { ($0.key.rawValue, $0.value) })
    }
}

extension StateView.UploadView {
    init(_ upload: Upload) {
        id = upload.id.rawValue
        repository = upload.repository.rawValue
        startedAt = RFC3339.format(upload.startedAt)
        size = upload.size
        chunks = upload.chunks
    }
}

/// Parses Go-style durations: `72h`, `90m`, `1h30m`, `10s`, `250ms`, `2d`, with an optional `-`.
public func parseDuration(_ text: String) -> Int64? {
    var rest = text.trimmingSpaces
    var sign: Int64 = 1
    if rest.hasPrefix("-") {
        sign = -1
        rest = rest.dropFirst()
    }
    guard !rest.isEmpty else { return nil }
    var total: Int64 = 0
    while !rest.isEmpty {
        let digits = rest.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits) else { return nil }
        rest = rest.dropFirst(digits.count)
        let unit = rest.prefix { $0.isLetter }
        rest = rest.dropFirst(unit.count)
        let scale: Double
        switch unit {
        case "ms": scale = 1
        case "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        default: return nil
        }
        // Refuse what does not fit in milliseconds rather than trap on the conversion.
        let milliseconds = value * scale
        guard milliseconds.isFinite, abs(milliseconds) < 1e15 else { return nil }
        total += Int64(milliseconds)
        guard abs(total) < 1_000_000_000_000_000 else { return nil }
    }
    return sign * total
}

/// A diff between two points as the admin API shows it.
struct DiffView: Encodable {
    struct Point: Encodable {
        var sequence: UInt64
        var time: String
        var checkpoint: String?
    }

    struct Setting: Encodable {
        var field: String
        var from: String?
        var to: String?
        init(_ change: RegistryDiff.SettingChange) { (field, from, to) = (change.field, change.from, change.to) }
    }

    struct TagChange: Encodable {
        var tag: String
        var from: String?
        var to: String?
    }

    struct RepositoryChange: Encodable {
        var name: String
        var settings: [Setting]
        var imagesAdded: [String]
        var imagesRemoved: [String]
        var tags: [TagChange]
        var blobsLinked: [String]
        var blobsUnlinked: [String]

        init(_ change: RegistryDiff.RepositoryChange) {
            name = change.name.rawValue
            settings = change.settings.map(Setting.init)
            imagesAdded = change.imagesAdded.map(\.rawValue)
            imagesRemoved = change.imagesRemoved.map(\.rawValue)
            tags = change.tags.map { TagChange(tag: $0.tag.rawValue, from: $0.from?.rawValue, to: $0.to?.rawValue) }
            blobsLinked = change.blobsLinked.map(\.rawValue)
            blobsUnlinked = change.blobsUnlinked.map(\.rawValue)
        }
    }

    struct ScopeChange: Encodable {
        var account: String
        var region: String
        var repositoriesAdded: [RepositoryChange]
        var repositoriesRemoved: [RepositoryChange]
        var repositoriesChanged: [RepositoryChange]
        var registrySettings: [Setting]
    }

    var from: Point
    var to: Point
    var registries: [ScopeChange]
    var checkpointsAdded: [String]
    var checkpointsRemoved: [String]
    var clock: Setting?
    var unchanged: Bool

    init(_ diff: RegistryDiff, from: Point, to: Point) {
        self.from = from
        self.to = to
        registries = diff.scopes.map { scope in
            ScopeChange(
                account: scope.scope.account.rawValue, region: scope.scope.region.rawValue,
                repositoriesAdded: scope.repositoriesAdded.map(RepositoryChange.init),
                repositoriesRemoved: scope.repositoriesRemoved.map(RepositoryChange.init),
                repositoriesChanged: scope.repositoriesChanged.map(RepositoryChange.init),
                registrySettings: scope.registrySettings.map(Setting.init))
        }
        checkpointsAdded = diff.checkpointsAdded.map(\.rawValue)
        checkpointsRemoved = diff.checkpointsRemoved.map(\.rawValue)
        clock = diff.clock.map(Setting.init)
        unchanged = diff.isEmpty
    }
}
