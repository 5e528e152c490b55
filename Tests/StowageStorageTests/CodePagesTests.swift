#if canImport(Glibc)
    import Glibc
    import StowageCore
    import Testing

    @testable import StowageStorage

    /// The idle trim's unmapping of code pages, on this test process's own code: the pages go,
    /// the code still runs, and a page that is a private copy (written to, as a debugger's
    /// breakpoint would be) keeps its mapping whole.
    struct CodePagesTests {
        @Test func unmapsTheResidentCodePagesAndKeepsAWrittenPage() throws {
            let ranges = CodePages.executableRanges()
            try #require(!ranges.isEmpty, "this process's code mapping is in /proc/self/maps")
            func resident() -> Int { ranges.compactMap(CodePages.residentFilePages).reduce(0, +) }
            let before = resident()
            #expect(before > 0)

            let released = CodePages.release()
            #expect(released > 0)
            // What runs between the two readings (this test) is mapped again, a little of it.
            let after = resident()
            #expect(after < before / 2, "resident code pages: \(before) before, \(after) after")
            // The code still runs: a digest, through code the release unmapped.
            #expect(ContentDigester.digest(Array("stowage".utf8)).hex.hasPrefix("0fca2861"))

            // A private copy of a page, made as a debugger sets a breakpoint: written through
            // /proc/self/mem (here with the byte it holds, so the code is unchanged).
            let size = CodePages.pageSize
            let page = try #require(UnsafeMutablePointer<UInt8>(bitPattern: ranges[0].lowerBound))
            var byte = page.pointee
            let memory = open("/proc/self/mem", O_RDWR)
            try #require(memory >= 0)
            defer { close(memory) }
            try #require(pwrite(memory, &byte, 1, off_t(Int(bitPattern: ranges[0].lowerBound))) == 1)
            let pageRange = ranges[0].lowerBound..<ranges[0].lowerBound + UInt(size)
            #expect(CodePages.residentFilePages(pageRange) == nil, "the written page is a private copy")
            CodePages.release()
            #expect(CodePages.residentFilePages(pageRange) == nil, "the private copy is still mapped")
        }
    }
#endif
