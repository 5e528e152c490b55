import FoundationEssentials
import Testing

@testable import StowageCore

/// The fields kept behind one reference (an image's manifest, a repository's settings) are still
/// values: a copy changed leaves the original as it was, equality is by value, and the encoded
/// form is the value's own.
struct CopiedOnWriteTests {
    @Test func aChangedCopyLeavesTheOriginalAsItWas() {
        let original = Image(manifest: Fixture.manifest("a"), pushedAt: Fixture.time(1))
        var copy = original
        #expect(copy == original)
        copy.manifest.content = "{}"
        copy.manifest.references.layers = []
        #expect(original.manifest == Fixture.manifest("a"))
        #expect(copy.manifest.content == "{}" && copy.manifest.references.layers.isEmpty)
        #expect(copy != original)

        var repository = Repository(name: Fixture.app, createdAt: Fixture.time(1))
        let before = repository
        repository.settings.scanOnPush = true
        repository.settings.mutabilityExclusions.append("release-*")
        #expect(before.settings == RepositorySettings())
        #expect(repository.settings.scanOnPush && repository.settings.mutabilityExclusions == ["release-*"])
    }

    @Test func equalValuesInSeparateBoxesAreEqualAndHashAlike() {
        let one = Image(manifest: Fixture.manifest("a"), pushedAt: Fixture.time(1))
        let other = Image(manifest: Fixture.manifest("a"), pushedAt: Fixture.time(1))
        #expect(one == other)
        #expect(one.hashValue == other.hashValue)
        #expect(Set([one, other]).count == 1)
    }

    @Test func theEncodedFormIsTheValuesOwn() throws {
        let manifest = Fixture.manifest("a")
        let image = Image(manifest: manifest, pushedAt: Fixture.time(1))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let wrapped = String(decoding: try encoder.encode(image), as: UTF8.self)
        let plain = String(decoding: try encoder.encode(manifest), as: UTF8.self)
        #expect(wrapped.contains("\"manifest\":" + plain))
        #expect(try JSONDecoder().decode(Image.self, from: encoder.encode(image)) == image)
    }
}
