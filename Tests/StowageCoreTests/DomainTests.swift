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
        #expect(Digest("sha256:" + hex64)?.hex == Substring(hex64))
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
