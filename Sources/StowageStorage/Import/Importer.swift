import FoundationEssentials
import HashTreeCollections
public import StowageCore

/// What comes into a registry whole: an export file (the registry replaced, as one restore) or an
/// OCI image layout (its images pushed into a repository, as one write that creates it if
/// missing). The admin API's `POST /_admin/import` and `stowage serve --fixture` both call this.
public struct Importer: Sendable {
    let store: RegistryStore
    let ingest: Ingest

    public init(store: RegistryStore, ingest: Ingest) {
        self.store = store
        self.ingest = ingest
    }

    /// Why an import was refused; nothing changed.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What an export file's import did.
    public struct Imported: Sendable {
        public var sequence: UInt64
        public var repositories: Int
        public var images: Int
        public var blobs: Int
    }

    /// What a layout's import did.
    public struct Pushed: Sendable {
        public struct Move: Sendable {
            public var tag: Tag
            /// What the tag named before; `nil` for a new tag.
            public var from: Digest?
            public var to: Digest
        }

        public var repository: RepositoryName
        public var manifests: [Digest]
        public var tags: [Tag]
        /// The tags the import created or moved.
        public var moved: [Move]
        public var blobs: Int
        public var sequence: UInt64
    }

    /// Replaces the registry with an export file's content, validated completely first (inflating
    /// at most `limit` bytes).
    public func importExport(_ bytes: [UInt8], limit: Int) async throws -> Imported {
        let contents: ExportFormat.Contents
        do { contents = try ExportFormat.decode(bytes, limit: limit) } catch {
            if TarReader.looksLikeTar(bytes) {
                throw Failure(
                    description:
                        "this is a tar archive, not a Stowage export; to push an OCI image layout tar into a repository, add ?format=oci-layout&repository=NAME (stowage import --oci-layout --repository NAME FILE)"
                )
            }
            throw Failure(description: error.description)
        }
        if !contents.includesBlobs {
            let missing = contents.state.linkedBlobs.filter { store.content.blobSize($0) == nil }
            guard missing.isEmpty else {
                throw Failure(
                    description:
                        "the file has no blobs and this registry lacks \(missing.count) of those it links, e.g. \(missing.sorted().first!)"
                )
            }
        }
        let envelope = try await ingest.ingest(verified: contents.blobs.map { ($0.key, $0.value) }) {
            try await store.restore(imported: contents.state, bytes: Int64(bytes.count))
        }
        let counts = contents.state.counts
        return Imported(
            sequence: envelope.sequence, repositories: counts.repositories, images: counts.images,
            blobs: contents.blobs.count)
    }

    /// Pushes an OCI image layout's images, with the tags its `index.json` names, into `name`.
    public func importLayout(_ layout: OCILayout, into name: RepositoryName, scope: Scope) async throws -> Pushed {
        let plan: OCILayout.Plan
        do { plan = try layout.plan() } catch { throw Failure(description: "\(error)") }
        let commands =
            plan.blobs.map { Command.putBlob(repository: name, digest: $0.0, size: Int64($0.1.count)) }
            + plan.manifests.map { Command.putManifest(repository: name, manifest: $0.manifest, tag: $0.tag) }
        let written = try await ingest.ingest(verified: plan.blobs) {
            try await store.submit(commands, scope: scope, creating: name, .onPush(always: true))
        }
        let before = written.before[scope].repositories[name]
        let after = written.after[scope].repositories[name]
        let moved = plan.manifests.compactMap(\.tag).compactMap { tag -> Pushed.Move? in
            guard let to = after?.tags[tag]?.digest, before?.tags[tag]?.digest != to else { return nil }
            return Pushed.Move(tag: tag, from: before?.tags[tag]?.digest, to: to)
        }
        return Pushed(
            repository: name, manifests: plan.manifests.map(\.manifest.digest), tags: plan.manifests.compactMap(\.tag),
            moved: moved, blobs: plan.blobs.count, sequence: written.envelopes.last?.sequence ?? store.sequence)
    }
}
