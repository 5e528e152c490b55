import HashTreeCollections
import Testing

@testable import StowageCore

/// What follows a command, as a table: a state, a trigger, and every reaction expected, exactly.
struct ReactionTests {
    typealias F = Fixture
    static let elsewhere = Scope(account: AccountID("222222222222")!, region: Region("us-west-2")!)
    static let finding = ScanFinding(name: "CVE-1", severity: "HIGH")
    static let image = F.manifest("one")
    static let index = Manifest(
        digest: F.digest("index"), mediaType: ManifestMediaType.ociIndex, content: "{}",
        references: ManifestReferences(manifests: [
            Descriptor(mediaType: ManifestMediaType.ociManifest, digest: image.digest, size: 9)
        ]))
    static let keepOne = try! LifecyclePolicy(
        #"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#
    )

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        /// Applied first, in the default account-region unless a command says otherwise.
        var setup: [(Scope, Command)]
        var trigger: (Scope, Command)
        var cause: Reaction.Kind? = nil
        var expected: [Reaction]
        var testDescription: String { name }
    }

    static func push(_ manifest: Manifest, tag: StowageCore.Tag? = F.latest, in scope: Scope = .default) -> (
        Scope, Command
    ) {
        (scope, .putManifest(repository: F.app, manifest: manifest, tag: tag))
    }

    static let repository = (Scope.default, Command.createRepository(name: F.app, settings: .init()))
    static let blobs: [(Scope, Command)] = [
        (.default, .putBlob(repository: F.app, digest: F.config, size: 7)),
        (.default, .putBlob(repository: F.app, digest: F.layer, size: 5)),
    ]
    static func seeded(in scope: Scope = .default) -> (Scope, Command) {
        (scope, .changeRegistrySettings(.seedScanFindings(digest: image.digest, findings: [finding])))
    }
    static let replicating = (
        Scope.default,
        Command.changeRegistrySettings(
            .replication(ReplicationConfiguration(rules: [.init(destinations: [elsewhere], repositoryFilters: ["ap"])]))
        )
    )
    static let template = CreationTemplate.Fields(tagMutability: .immutable, appliedFor: [.replication])

    static let cases: [Case] = [
        Case(
            name: "a push to a repository that scans on push scans the image, finding what was seeded",
            setup: [repository, (.default, .setScanOnPush(repository: F.app, scanOnPush: true)), seeded()] + blobs,
            trigger: push(image),
            expected: [
                Reaction(
                    .scanOnPush, in: .default,
                    .recordImageScan(repository: F.app, digest: image.digest, findings: [finding]))
            ]),
        Case(
            name: "an index is not scanned",
            setup: [repository, (.default, .setScanOnPush(repository: F.app, scanOnPush: true))] + blobs + [
                push(image)
            ],
            trigger: push(index, tag: nil), expected: []),
        Case(
            name: "a registry scanning rule decides over the repository's own setting",
            setup: [
                repository, (.default, .setScanOnPush(repository: F.app, scanOnPush: true)),
                (
                    .default,
                    .changeRegistrySettings(
                        .scanning(.init(rules: [.init(scanFrequency: .manual, repositoryFilters: ["a*"])])))
                ),
            ] + blobs,
            trigger: push(image), expected: []),
        Case(
            name: "a registry SCAN_ON_PUSH rule scans a repository that does not scan by itself",
            setup: [
                repository,
                (
                    .default,
                    .changeRegistrySettings(
                        .scanning(.init(rules: [.init(scanFrequency: .scanOnPush, repositoryFilters: ["*"])])))
                ),
            ] + blobs,
            trigger: push(image),
            expected: [
                Reaction(
                    .scanOnPush, in: .default, .recordImageScan(repository: F.app, digest: image.digest, findings: []))
            ]),
        Case(
            name:
                "a push a replication rule covers is copied: the repository (with the REPLICATION template), its blobs, the image and its tag",
            setup: [
                repository, replicating,
                (elsewhere, .changeRegistrySettings(.createCreationTemplate(prefix: "ROOT", fields: template))),
            ] + blobs,
            trigger: push(image),
            expected: [
                Reaction(
                    .replication, in: elsewhere,
                    .createRepository(name: F.app, settings: RepositorySettings(tagMutability: .immutable))),
                Reaction(.replication, in: elsewhere, .putBlob(repository: F.app, digest: F.config, size: 7)),
                Reaction(.replication, in: elsewhere, .putBlob(repository: F.app, digest: F.layer, size: 5)),
                Reaction(.replication, in: elsewhere, .putManifest(repository: F.app, manifest: image, tag: F.latest)),
            ]),
        Case(
            name: "an index is copied after its children, each blob once",
            setup: [repository, replicating] + blobs + [push(image, tag: nil)],
            trigger: push(index, tag: F.v1),
            expected: [
                Reaction(.replication, in: elsewhere, .createRepository(name: F.app, settings: .init())),
                Reaction(.replication, in: elsewhere, .putBlob(repository: F.app, digest: F.config, size: 7)),
                Reaction(.replication, in: elsewhere, .putBlob(repository: F.app, digest: F.layer, size: 5)),
                Reaction(.replication, in: elsewhere, .putManifest(repository: F.app, manifest: image, tag: nil)),
                Reaction(.replication, in: elsewhere, .putManifest(repository: F.app, manifest: index, tag: F.v1)),
            ]),
        Case(
            name: "a replicated copy is not replicated again, but scanned where it lands",
            setup: [
                (elsewhere, .createRepository(name: F.app, settings: .init(scanOnPush: true))),
                (elsewhere, .putBlob(repository: F.app, digest: F.config, size: 7)),
                (elsewhere, .putBlob(repository: F.app, digest: F.layer, size: 5)),
                (
                    elsewhere,
                    .changeRegistrySettings(.replication(.init(rules: [.init(destinations: [.default])])))
                ),
            ],
            trigger: push(image, in: elsewhere), cause: .replication,
            expected: [
                Reaction(
                    .scanOnPush, in: elsewhere, .recordImageScan(repository: F.app, digest: image.digest, findings: []))
            ]),
        Case(
            name: "a repository no replication filter covers is not copied",
            setup: [
                (.default, .createRepository(name: F.web, settings: .init())), replicating,
                (.default, .putBlob(repository: F.web, digest: F.config, size: 7)),
                (.default, .putBlob(repository: F.web, digest: F.layer, size: 5)),
            ],
            trigger: (.default, .putManifest(repository: F.web, manifest: image, tag: nil)), expected: []),
        Case(
            name: "a push past a lifecycle policy's count expires the oldest image",
            setup: [repository, (.default, .setLifecyclePolicy(repository: F.app, policy: keepOne))] + blobs + [
                push(F.manifest("old"), tag: nil)
            ],
            trigger: push(image),
            expected: [
                Reaction(
                    .lifecycle, in: .default,
                    .expireImages(repository: F.app, digests: [F.manifest("old").digest], rules: [1]))
            ]),
        Case(
            name: "putting a lifecycle policy applies it at once",
            setup: [repository] + blobs + [push(F.manifest("old"), tag: nil), push(image)],
            trigger: (.default, .setLifecyclePolicy(repository: F.app, policy: keepOne)),
            expected: [
                Reaction(
                    .lifecycle, in: .default,
                    .expireImages(repository: F.app, digests: [F.manifest("old").digest], rules: [1]))
            ]),
        Case(
            name: "removing a lifecycle policy, and commands that add no image, cause nothing",
            setup: [repository, (.default, .setLifecyclePolicy(repository: F.app, policy: keepOne))] + blobs,
            trigger: (.default, .setLifecyclePolicy(repository: F.app, policy: nil)), expected: []),
        Case(
            name: "a blob link causes nothing, whatever the settings",
            setup: [repository, (.default, .setScanOnPush(repository: F.app, scanOnPush: true)), replicating],
            trigger: (.default, .putBlob(repository: F.app, digest: F.layer, size: 5)), expected: []),
    ]

    @Test(arguments: cases)
    func reactionsFollowECR(_ example: Case) throws {
        var state = RegistryState()
        for (i, (scope, command)) in (example.setup + [example.trigger]).enumerated() {
            try state.apply(Envelope(sequence: UInt64(i + 1), time: F.time(i + 1), scope: scope, command: command))
        }
        let trigger = Envelope(
            sequence: state.sequence, time: state.time, scope: example.trigger.0, command: example.trigger.1)
        #expect(state.reactions(to: trigger, following: example.cause) == example.expected)
        // Every reaction applies to the state it was decided on, in order.
        for (i, reaction) in example.expected.enumerated() {
            try state.apply(
                Envelope(
                    sequence: state.sequence + 1, time: F.time(100 + i), scope: reaction.scope,
                    command: reaction.command))
            #expect(state._checkInvariants() == [])
        }
    }

    /// A tick of the clock: every policy, in order of account-region and name.
    @Test func lifecycleTicksExpireWhatEveryPolicySaysNow() throws {
        let day: Int64 = 86_400_000
        let week = try LifecyclePolicy(
            #"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#
        )
        var state = try F.state(
            F.withBlobs + [
                .setLifecyclePolicy(repository: F.app, policy: week),
                .putManifest(repository: F.app, manifest: F.manifest("a"), tag: nil),
                .putManifest(repository: F.app, manifest: F.manifest("b"), tag: F.v1),
            ])
        try state.apply(
            Envelope(
                sequence: 7, time: F.time(7), scope: F.other, command: .createRepository(name: F.app, settings: .init())
            ))
        #expect(state.lifecycleReactions(at: F.time(0)) == [])
        #expect(
            state.lifecycleReactions(at: Timestamp(millisecondsSinceEpoch: F.time(5).millisecondsSinceEpoch + 8 * day))
                == [
                    Reaction(
                        .lifecycle, in: .default,
                        .expireImages(repository: F.app, digests: [F.manifest("a").digest], rules: [1]))
                ])
    }

    /// Which repository a write creates, and with what settings.
    @Test func theWriterCreatesARepositoryOnlyAsTheRuleAndTheTemplatesSay() throws {
        var state = RegistryState()
        let name = RepositoryName("prod/app")!
        #expect(state.creation(of: name, in: .default, .never) == nil)
        #expect(state.creation(of: name, in: .default, .onPush(always: false)) == nil)
        #expect(
            state.creation(of: name, in: .default, .onPush(always: true))
                == .createRepository(name: name, settings: .init()))
        #expect(
            state.creation(of: name, in: .default, .pullThrough) == .createRepository(name: name, settings: .init()))
        let onPush = CreationTemplate.Fields(
            tagMutability: .immutable, resourceTags: [ResourceTag(key: "team", value: "a")], appliedFor: [.createOnPush]
        )
        try state.apply(
            Envelope(
                sequence: 1, time: F.time(1),
                command: .changeRegistrySettings(.createCreationTemplate(prefix: "prod", fields: onPush))))
        let settings = RepositorySettings(
            tagMutability: .immutable, resourceTags: [ResourceTag(key: "team", value: "a")])
        #expect(
            state.creation(of: name, in: .default, .onPush(always: false))
                == .createRepository(name: name, settings: settings))
        #expect(
            state.creation(of: name, in: .default, .replication) == .createRepository(name: name, settings: .init()))
        #expect(state.creation(of: RepositoryName("dev/app")!, in: .default, .onPush(always: false)) == nil)
        #expect(state.creation(of: name, in: F.other, .onPush(always: false)) == nil)
        try state.apply(
            Envelope(sequence: 2, time: F.time(2), command: .createRepository(name: name, settings: .init())))
        #expect(state.creation(of: name, in: .default, .onPush(always: true)) == nil)
    }
}
