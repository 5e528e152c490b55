/// One finding of an image scan (ECR's basic scanning shape).
public struct ScanFinding: Hashable, Sendable, Codable {
    public var name: String
    public var description: String?
    public var uri: String?
    /// INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL or UNDEFINED.
    public var severity: String
    public var attributes: [String: String]

    public init(
        name: String, description: String? = nil, uri: String? = nil, severity: String,
        attributes: [String: String] = [:]
    ) {
        self.name = name
        self.description = description
        self.uri = uri
        self.severity = severity
        self.attributes = attributes
    }
}

/// The result of scanning an image: when, and what was found.
public struct ImageScan: Hashable, Sendable, Codable {
    public var completedAt: Timestamp
    public var findings: [ScanFinding]
}
