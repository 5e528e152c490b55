/// What a test can switch in the server's behaviour, at start (flags) or at run time
/// (`POST /_admin/config`), logged as history like everything else. The defaults are a registry
/// that does all it can.
public struct Switches: Hashable, Sendable, Codable {
    /// The referrers API. Off: `GET /v2/<name>/referrers/<digest>` answers 404 and a push of a
    /// manifest with a subject gets no `OCI-Subject` header, so clients fall back to the tag schema.
    public var referrers: Bool
    /// Deletes on `/v2` (manifests, tags, blobs). Off: 405 `UNSUPPORTED`.
    public var deletes: Bool
    /// A `Warning: 299 - "<text>"` header on every `/v2` response.
    public var warning: String?
    /// Requests per second on `/v2` and the ECR API together (one second of burst); past it, 429
    /// `TOOMANYREQUESTS` with `Retry-After` (ECR: `ThrottlingException`).
    public var rateLimit: Int?
    /// The `OCI-Chunk-Min-Length` upload sessions advertise.
    public var chunkMinLength: Int64?

    public init(
        referrers: Bool = true, deletes: Bool = true, warning: String? = nil, rateLimit: Int? = nil,
        chunkMinLength: Int64? = nil
    ) {
        self.referrers = referrers
        self.deletes = deletes
        self.warning = warning
        self.rateLimit = rateLimit
        self.chunkMinLength = chunkMinLength
    }

    /// What is switched away from the defaults, in words (`referrers off, deletes off, warning "x"`).
    public var summary: String {
        var parts: [String] = []
        if !referrers { parts.append("referrers off") }
        if !deletes { parts.append("deletes off") }
        if let warning { parts.append("warning \"\(warning)\"") }
        if let rateLimit { parts.append("rate limit \(rateLimit)/s") }
        if let chunkMinLength { parts.append("chunk minimum \(chunkMinLength) bytes") }
        return parts.isEmpty ? "every switch at its default" : parts.joined(separator: ", ")
    }
}
