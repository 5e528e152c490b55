import HashTreeCollections
import Testing

@testable import StowageCore

struct LifecycleTests {
    typealias F = Fixture
    static let day: Int64 = 86_400_000

    /// A repository with images pushed `age` days before `now`, tagged as given.
    static func repository(_ images: [(seed: String, ageDays: Int64, tags: [String])]) -> Repository {
        var repository = Repository(name: F.app, createdAt: .epoch)
        for image in images {
            let manifest = F.manifest(image.seed)
            let tags = image.tags.map { Tag($0)! }.sorted()
            repository.images[manifest.digest] = Image(
                manifest: manifest, pushedAt: Timestamp(millisecondsSinceEpoch: 100 * day - image.ageDays * day),
                tags: tags)
            for tag in tags { repository.tags[tag] = repository.images[manifest.digest]!.tagTarget }
        }
        return repository
    }

    static let now = Timestamp(millisecondsSinceEpoch: 100 * day)

    func expired(_ repository: Repository, _ rules: [LifecycleRule]) -> [String: Int] {
        Dictionary(
            uniqueKeysWithValues: repository.lifecycleExpirations(rules, now: Self.now).map { expiration in
                (
                    repository.images.values.first { $0.digest == expiration.digest }!.manifest.content,
                    expiration.rulePriority
                )
            })
    }

    func seed(_ name: String) -> String { F.manifest(name).content }

    @Test func imageCountMoreThanKeepsTheNewestOfTheSelectedImages() {
        let repository = Self.repository([
            ("a", 5, ["v1"]), ("b", 4, ["v2"]), ("c", 3, []), ("d", 2, ["v3"]), ("e", 1, []),
        ])
        let rule = LifecycleRule(priority: 1, tagStatus: .any, countType: .imageCountMoreThan, countNumber: 2)
        #expect(expired(repository, [rule]) == [seed("a"): 1, seed("b"): 1, seed("c"): 1])
        let untagged = LifecycleRule(priority: 1, tagStatus: .untagged, countType: .imageCountMoreThan, countNumber: 1)
        #expect(expired(repository, [untagged]) == [seed("c"): 1])
    }

    @Test func sinceImagePushedExpiresWhatIsOlderThanTheDays() {
        let repository = Self.repository([("a", 10, ["dev-1"]), ("b", 8, ["prod-1"]), ("c", 3, ["dev-2"])])
        let rule = LifecycleRule(
            priority: 1, tagStatus: .tagged, tagPrefixes: ["dev"], countType: .sinceImagePushed, countNumber: 7)
        #expect(expired(repository, [rule]) == [seed("a"): 1])
        let pattern = LifecycleRule(
            priority: 1, tagStatus: .tagged, tagPatterns: ["*-1"], countType: .sinceImagePushed, countNumber: 7)
        #expect(expired(repository, [pattern]) == [seed("a"): 1, seed("b"): 1])
    }

    @Test func anImageSelectedByAnEarlierRuleIsNotDecidedByALaterOne() {
        let repository = Self.repository([
            ("a", 30, ["prod-1"]), ("b", 20, ["prod-2"]), ("c", 10, ["dev-1"]), ("d", 5, []),
        ])
        let keepProd = LifecycleRule(
            priority: 1, tagStatus: .tagged, tagPrefixes: ["prod"], countType: .imageCountMoreThan, countNumber: 5)
        let expireAll = LifecycleRule(priority: 2, tagStatus: .any, countType: .sinceImagePushed, countNumber: 1)
        #expect(expired(repository, [expireAll, keepProd]) == [seed("c"): 2, seed("d"): 2])
    }

    @Test func everyPrefixMustBeMatchedByOneOfTheTags() {
        let repository = Self.repository([("a", 9, ["prod", "stable"]), ("b", 9, ["prod"])])
        let rule = LifecycleRule(
            priority: 1, tagStatus: .tagged, tagPrefixes: ["prod", "stab"], countType: .sinceImagePushed, countNumber: 1
        )
        #expect(expired(repository, [rule]) == [seed("a"): 1])
    }

    @Test func expiringImagesRemovesThemWithTheirTagsOrRefusesAll() throws {
        var (one, two, state) = try F.twoTaggedImages()
        let before = state
        #expect(throws: RegistryError.manifestNotFound(F.app, reference: F.manifest("ghost").digest.rawValue)) {
            try state.apply(
                Envelope(
                    sequence: 6, time: F.time(6),
                    command: .expireImages(repository: F.app, digests: [one.digest, F.manifest("ghost").digest])))
        }
        #expect(state == before)
        try state.apply(
            Envelope(sequence: 6, time: F.time(6), command: .expireImages(repository: F.app, digests: [one.digest])))
        var repository = F.repository(blobs: [F.config: 7, F.layer: 5])
        repository.images[two.digest] = Image(manifest: two, pushedAt: F.time(5), tags: [F.v1])
        repository.tags[F.v1] = repository.images[two.digest]!.tagTarget
        #expect(state == F.registry([repository], sequence: 6))
    }
}
