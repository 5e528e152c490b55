import HashTreeCollections

/// What changed between two states of the registry, per account-region: repositories, images,
/// tags (with the digests they pointed at), and settings, each with its old and new value.
public struct RegistryDiff: Hashable, Sendable {
    /// A setting whose value changed; a value is `nil` where the setting was absent.
    public struct SettingChange: Hashable, Sendable {
        public var field: String
        public var from: String?
        public var to: String?
    }

    /// A tag that was added (`from` nil), removed (`to` nil) or moved to another image.
    public struct TagChange: Hashable, Sendable {
        public var tag: Tag
        public var from: Digest?
        public var to: Digest?
    }

    /// A repository that exists on both sides and changed.
    public struct RepositoryChange: Hashable, Sendable {
        public var name: RepositoryName
        public var settings: [SettingChange] = []
        public var imagesAdded: [Digest] = []
        public var imagesRemoved: [Digest] = []
        public var tags: [TagChange] = []
        public var blobsLinked: [Digest] = []
        public var blobsUnlinked: [Digest] = []

        var isEmpty: Bool {
            settings.isEmpty && imagesAdded.isEmpty && imagesRemoved.isEmpty && tags.isEmpty && blobsLinked.isEmpty
                && blobsUnlinked.isEmpty
        }
    }

    public struct ScopeDiff: Hashable, Sendable {
        public var scope: Scope
        /// Repositories only on the later side, with what they hold.
        public var repositoriesAdded: [RepositoryChange] = []
        /// Repositories only on the earlier side, with what they held.
        public var repositoriesRemoved: [RepositoryChange] = []
        public var repositoriesChanged: [RepositoryChange] = []
        public var registrySettings: [SettingChange] = []

        var isEmpty: Bool {
            repositoriesAdded.isEmpty && repositoriesRemoved.isEmpty && repositoriesChanged.isEmpty
                && registrySettings.isEmpty
        }
    }

    public var scopes: [ScopeDiff]
    /// Checkpoints only on one side, by name.
    public var checkpointsAdded: [CheckpointName]
    public var checkpointsRemoved: [CheckpointName]
    /// The clock offset, when it changed.
    public var clock: SettingChange?

    public var isEmpty: Bool {
        scopes.isEmpty && checkpointsAdded.isEmpty && checkpointsRemoved.isEmpty && clock == nil
    }
}

extension RegistryState {
    /// What changed from this state to `later`.
    public func diff(to later: RegistryState) -> RegistryDiff {
        var scopes: [RegistryDiff.ScopeDiff] = []
        for scope in Set(self.scopes.keys).union(later.scopes.keys).sorted() {
            let before = self[scope]
            let after = later[scope]
            var diff = RegistryDiff.ScopeDiff(scope: scope)
            for name in Set(before.repositories.keys).union(after.repositories.keys).sorted() {
                switch (before.repositories[name], after.repositories[name]) {
                case (nil, let added?): diff.repositoriesAdded.append(Self.change(from: nil, to: added))
                case (let removed?, nil): diff.repositoriesRemoved.append(Self.change(from: removed, to: nil))
                case (let old?, let new?) where old != new:
                    let change = Self.change(from: old, to: new)
                    if !change.isEmpty { diff.repositoriesChanged.append(change) }
                default: break
                }
            }
            diff.registrySettings = Self.changes(before.registry, after.registry)
            if !diff.isEmpty { scopes.append(diff) }
        }
        let clock =
            clockOffset == later.clockOffset
            ? nil
            : RegistryDiff.SettingChange(
                field: "clockOffsetMilliseconds", from: String(clockOffset ?? 0), to: String(later.clockOffset ?? 0))
        return RegistryDiff(
            scopes: scopes,
            checkpointsAdded: later.checkpoints.keys.filter { checkpoints[$0] == nil }.sorted(),
            checkpointsRemoved: checkpoints.keys.filter { later.checkpoints[$0] == nil }.sorted(), clock: clock)
    }

    private static func change(from old: Repository?, to new: Repository?) -> RegistryDiff.RepositoryChange {
        var change = RegistryDiff.RepositoryChange(name: (new ?? old)!.name)
        let oldImages = old?.images ?? [:]
        let newImages = new?.images ?? [:]
        change.imagesAdded = newImages.keys.filter { oldImages[$0] == nil }.sorted()
        change.imagesRemoved = oldImages.keys.filter { newImages[$0] == nil }.sorted()
        let oldTags = old?.tags ?? [:]
        let newTags = new?.tags ?? [:]
        for tag in Set(oldTags.keys).union(newTags.keys).sorted() where oldTags[tag] != newTags[tag] {
            change.tags.append(RegistryDiff.TagChange(tag: tag, from: oldTags[tag]?.digest, to: newTags[tag]?.digest))
        }
        let oldBlobs = old?.blobs ?? [:]
        let newBlobs = new?.blobs ?? [:]
        change.blobsLinked = newBlobs.keys.filter { oldBlobs[$0] == nil }.sorted()
        change.blobsUnlinked = oldBlobs.keys.filter { newBlobs[$0] == nil }.sorted()
        if let old, let new { change.settings = settingChanges(old.settings, new.settings) }
        return change
    }

    private static func settingChanges(_ a: RepositorySettings, _ b: RepositorySettings) -> [RegistryDiff.SettingChange]
    {
        var changes: [RegistryDiff.SettingChange] = []
        func compare(_ field: String, _ x: String?, _ y: String?) {
            if x != y { changes.append(RegistryDiff.SettingChange(field: field, from: x, to: y)) }
        }
        compare("imageTagMutability", a.tagMutability.rawValue, b.tagMutability.rawValue)
        compare(
            "imageTagMutabilityExclusionFilters", a.mutabilityExclusions.joined(separator: ","),
            b.mutabilityExclusions.joined(separator: ","))
        compare("scanOnPush", String(a.scanOnPush), String(b.scanOnPush))
        compare(
            "encryption", a.encryption.encryptionType + (a.encryption.kmsKey.map { " " + $0 } ?? ""),
            b.encryption.encryptionType + (b.encryption.kmsKey.map { " " + $0 } ?? ""))
        compare("repositoryPolicy", a.policy, b.policy)
        compare("lifecyclePolicy", a.lifecyclePolicy?.text, b.lifecyclePolicy?.text)
        compare("lifecyclePreview", a.lifecyclePreview?.text, b.lifecyclePreview?.text)
        let tags = { (s: RepositorySettings) in s.resourceTags.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        compare("resourceTags", tags(a), tags(b))
        return changes
    }

    private static func changes(_ a: RegistrySettings?, _ b: RegistrySettings?) -> [RegistryDiff.SettingChange] {
        guard a != b else { return [] }
        let a = a ?? RegistrySettings()
        let b = b ?? RegistrySettings()
        var changes: [RegistryDiff.SettingChange] = []
        func compare(_ field: String, _ x: String?, _ y: String?) {
            if x != y { changes.append(RegistryDiff.SettingChange(field: field, from: x, to: y)) }
        }
        compare("registryPolicy", a.policy, b.policy)
        compare("replicationConfiguration", a.replication?.json.text, b.replication?.json.text)
        compare("scanningConfiguration", a.scanning?.json.text, b.scanning?.json.text)
        compare("signingConfiguration", a.signing?.json.text, b.signing?.json.text)
        for name in Set(a.accountSettings.keys).union(b.accountSettings.keys).sorted() {
            compare("accountSetting \(name)", a.accountSettings[name], b.accountSettings[name])
        }
        for principal in Set(a.pullTimeUpdateExclusions.keys).union(b.pullTimeUpdateExclusions.keys).sorted() {
            compare(
                "pullTimeUpdateExclusion \(principal)", a.pullTimeUpdateExclusions[principal].map { _ in "registered" },
                b.pullTimeUpdateExclusions[principal].map { _ in "registered" })
        }
        let seedsA = a.scanFindingSeeds ?? [:]
        let seedsB = b.scanFindingSeeds ?? [:]
        for digest in Set(seedsA.keys).union(seedsB.keys).sorted() where seedsA[digest] != seedsB[digest] {
            compare(
                "scanFindingSeed \(digest)", seedsA[digest].map { "\($0.count) finding(s)" },
                seedsB[digest].map { "\($0.count) finding(s)" })
        }
        let templatesA = a.creationTemplates ?? [:]
        let templatesB = b.creationTemplates ?? [:]
        for prefix in Set(templatesA.keys).union(templatesB.keys).sorted() {
            compare("creationTemplate \(prefix)", templatesA[prefix]?.json.text, templatesB[prefix]?.json.text)
        }
        let rulesA = a.pullThroughRules ?? [:]
        let rulesB = b.pullThroughRules ?? [:]
        for prefix in Set(rulesA.keys).union(rulesB.keys).sorted() {
            compare("pullThroughCacheRule \(prefix)", rulesA[prefix]?.json.text, rulesB[prefix]?.json.text)
        }
        return changes
    }
}
