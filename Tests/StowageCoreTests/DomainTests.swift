import StowageTestSupport
import Testing

@testable import StowageCore

struct DomainTests {
    @Test(arguments: [
        "ab", "app", "team/app", "a0/b1/c2", "my.app", "my_app", "my__app", "my-app", "my---app", "a.b_c__d-e--f",
        "library/ubuntu", "blobs/manifests/tags", String(repeating: "a", count: 256),
    ])
    func repositoryNamesThatMatchTheGrammarAreAccepted(name: String) {
        #expect(RepositoryName(name)?.rawValue == name)
    }

    @Test(arguments: [
        "", "a", "App", "-app", "app-", "app.", ".app", "a..b", "a._b", "a___b", "a/", "/a", "a//b", "a/-b", "a b",
        "a:b", "é", String(repeating: "a", count: 257), "a/.b",
    ])
    func repositoryNamesThatBreakTheGrammarAreRefused(name: String) {
        #expect(RepositoryName(name) == nil)
    }

    @Test(arguments: ["latest", "v1.0", "_x", "A-b_c.D", String(repeating: "t", count: 128)])
    func validTagsAreAccepted(tag: String) {
        #expect(Tag(tag)?.rawValue == tag)
    }

    @Test(arguments: ["", ".x", "-x", "a:b", "a/b", "a b", String(repeating: "t", count: 129), "é"])
    func invalidTagsAreRefused(tag: String) {
        #expect(Tag(tag) == nil)
    }

    @Test func digestsNeedAKnownAlgorithmAndExactLowercaseHex() {
        let hex64 = String(repeating: "ab", count: 32)
        #expect(Digest("sha256:" + hex64)?.hex == hex64)
        #expect(Digest("sha512:" + hex64 + hex64)?.algorithm == .sha512)
        #expect(Digest("sha256:" + hex64.uppercased()) == nil)
        #expect(Digest("sha256:" + hex64.dropLast()) == nil)
        #expect(Digest("sha512:" + hex64) == nil)
        #expect(Digest("md5:" + hex64) == nil)
        #expect(Digest(hex64) == nil)
        #expect(Digest("sha256:" + hex64.dropLast() + "g") == nil)
        // Every byte of the algorithm and the separator counts, at both lengths.
        for wrong in ["xha256:", "sxa256:", "shx256:", "sha356:", "sha246:", "sha255:", "sha256;", "sha512:"] {
            #expect(Digest(wrong + hex64) == nil, "\(wrong)")
        }
        for wrong in ["sha256:", "sha513:", "shA512:", "sha512-"] {
            #expect(Digest(wrong + hex64 + hex64) == nil, "\(wrong)")
        }
        #expect(Digest("sha256:" + hex64.dropLast(2) + "é") == nil)
        // A digest built from a substring's text is the same digest.
        let text = "x sha256:\(hex64)"
        #expect(Digest(String(text.dropFirst(2))) == Digest("sha256:" + hex64))
    }

    /// A digest holds its hash's bytes, so its text, order, equality and hash are made from them:
    /// each must be what the text's would be.
    @Test func aDigestGivesBackItsTextAndOrdersAndHashesAsItsText() throws {
        var random = SeededGenerator(seed: 7)
        func hex(_ count: Int) -> String {
            String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &random)! })
        }
        var texts = (0..<400).map { n in n % 3 == 0 ? "sha512:" + hex(128) : "sha256:" + hex(64) }
        // Digests that differ only late in their text, and the smallest and largest of each.
        texts += ["sha256:" + String(repeating: "0", count: 64), "sha256:" + String(repeating: "f", count: 64)]
        texts += ["sha512:" + String(repeating: "0", count: 128), "sha512:" + String(repeating: "f", count: 128)]
        let base = hex(127)
        texts += [
            "sha512:" + base + "0", "sha512:" + base + "1",
            "sha512:" + String(base.prefix(64)) + "0" + String(base.suffix(63)),
        ]
        let digests = try texts.map { try #require(Digest($0), "\($0)") }
        for (text, digest) in zip(texts, digests) {
            #expect(digest.rawValue == text)
            #expect(digest.description == text)
            #expect(digest.hex == String(text.dropFirst(7)))
            #expect(digest.algorithm == (text.hasPrefix("sha512:") ? .sha512 : .sha256))
            #expect(digest.textLength == text.utf8.count)
            var json: [UInt8] = []
            digest.appendJSON(to: &json)
            #expect(json == Array("\"\(text)\"".utf8))
            // The same digest made again, and made from the hash's bytes.
            let again = try #require(Digest(String(text)))
            #expect(again == digest && again.hashValue == digest.hashValue)
            let bytes = stride(from: 7, to: text.utf8.count, by: 2).map { start in
                UInt8(String(Array(text)[start..<start + 2]), radix: 16)!
            }
            let fromHash = bytes.withUnsafeBytes { Digest(algorithm: digest.algorithm, hash: $0) }
            #expect(fromHash == digest)
        }
        #expect(digests.sorted().map(\.rawValue) == texts.sorted())
        #expect(Set(digests).count == Set(texts).count)
        for (a, b) in zip(digests, digests.dropFirst()) {
            #expect((a == b) == (a.rawValue == b.rawValue))
            #expect((a < b) == (a.rawValue < b.rawValue))
        }
        // Every digit at every place is read (and written back) as itself; every byte next to the
        // digits' ranges is refused at every place (the digits are read eight bytes at a time).
        let zeros = Array(repeating: UInt8(ascii: "0"), count: 128)
        for length in [64, 128] {
            for place in 0..<length {
                var hex = Array(zeros[..<length])
                for digit in "0123456789abcdef".utf8 {
                    hex[place] = digit
                    let text = (length == 64 ? "sha256:" : "sha512:") + String(decoding: hex, as: UTF8.self)
                    #expect(Digest(text)?.rawValue == text, "\(text)")
                }
                for wrong in "/:@`gAFG\u{7F} ".utf8 {
                    hex[place] = wrong
                    let text = (length == 64 ? "sha256:" : "sha512:") + String(decoding: hex, as: UTF8.self)
                    #expect(Digest(text) == nil, "\(text)")
                }
            }
        }
        // A sha256 is held in the value itself: no allocation per digest, in a state of millions.
        #expect(MemoryLayout<Digest>.size == 40)
        // A hash of the wrong length for its algorithm makes no digest.
        #expect([UInt8](repeating: 1, count: 32).withUnsafeBytes { Digest(algorithm: .sha512, hash: $0) } == nil)
        #expect([UInt8](repeating: 1, count: 31).withUnsafeBytes { Digest(algorithm: .sha256, hash: $0) } == nil)
    }

    @Test func accountsRegionsAndScopesFollowAWSShapes() {
        #expect(AccountID("123456789012") != nil)
        #expect(AccountID("12345678901") == nil)
        #expect(AccountID("12345678901a") == nil)
        for region in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"] {
            #expect(Region(region) != nil)
        }
        for region in ["", "us-east", "US-east-1", "us--1", "useast1", "us-east-x"] { #expect(Region(region) == nil) }
        #expect(Scope("000000000000/us-east-1") == .default)
        #expect(Scope("000000000000") == nil)
    }

    @Test func referencesAreDigestsWhenTheyHaveAColon() {
        #expect(Reference("latest") == .tag(Tag("latest")!))
        let digest = "sha256:" + String(repeating: "0", count: 64)
        #expect(Reference(digest) == .digest(Digest(digest)!))
        #expect(Reference("sha256:zz") == nil)
        #expect(Reference("a/b") == nil)
    }

    @Test(arguments: [
        ("v*", "v1", true), ("v*", "xv1", false), ("*-rc", "1.0-rc", true), ("*", "", true), ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false), ("exact", "exact", true), ("exact", "exactly", false),
    ])
    func wildcardFiltersMatchLikeECRExclusionFilters(pattern: String, text: String, matches: Bool) {
        #expect(wildcard(pattern, matches: text) == matches)
    }
}
