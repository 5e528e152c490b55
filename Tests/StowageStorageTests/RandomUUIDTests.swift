import Testing

@testable import StowageStorage

/// Request and upload ids: version 4 UUIDs in lowercase text, never the same twice.
struct RandomUUIDTests {
    @Test func aRandomUUIDIsAVersion4UUIDInLowercaseText() {
        var seen = Set<String>()
        for _ in 0..<1_000 {
            let text = randomUUID()
            let groups = text.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(text)")
            #expect(text.allSatisfy { "0123456789abcdef-".contains($0) }, "\(text)")
            #expect(groups[2].first == "4", "version nibble of \(text)")
            #expect(groups.count == 5 && "89ab".contains(groups[3].first!), "variant of \(text)")
            seen.insert(text)
        }
        #expect(seen.count == 1_000)
    }
}
