import Foundation
import StowageHTTP
import Testing

struct AdminDocumentationTests {
    /// `admin-api.md` documents exactly the endpoints the router serves.
    @Test func theAdminReferenceAndTheRouterAgree() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../admin-api.md"
        ).standardized
        let text = try String(contentsOf: path, encoding: .utf8)
        let documented = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("## `"), line.hasSuffix("`") else { return nil }
            return String(line.dropFirst(4).dropLast())
        }
        #expect(Set(documented) == Set(adminRoutes))
        #expect(documented.count == adminRoutes.count, "an endpoint is documented twice")
    }
}
