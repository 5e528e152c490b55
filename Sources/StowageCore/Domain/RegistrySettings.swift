/// The settings of one account's registry in one region (ECR's registry-level API).
///
/// Structured documents (replication, scanning, signing) are kept as the canonical JSON the
/// edge validated against the service model; the core only stores and replaces them.
public struct RegistrySettings: Hashable, Sendable, Codable {
    public var policy: String?
    public var replication: String?
    public var scanning: String?
    public var signing: String?
    /// `PutAccountSetting` values by name.
    public var accountSettings: [String: String]
    /// IAM principals whose pulls do not update `lastRecordedPullTime`, with when they were registered.
    public var pullTimeUpdateExclusions: [String: Timestamp]
    /// The findings a scan of each digest reports (seeded through the admin API; none by default).
    public var scanFindingSeeds: [Digest: [ScanFinding]]?
    /// Repository creation templates by prefix (`ROOT` for all), as canonical JSON.
    public var creationTemplates: [String: String]?
    /// Pull-through cache rules by ECR repository prefix (`ROOT` for all), as canonical JSON.
    public var pullThroughRules: [String: String]?

    public init() {
        accountSettings = [:]
        pullTimeUpdateExclusions = [:]
    }
}

/// One change to the registry-level settings.
public enum RegistrySettingChange: Hashable, Sendable, Codable {
    case policy(String?)
    case replication(String?)
    case scanning(String?)
    case signing(String?)
    case accountSetting(name: String, value: String)
    case registerPullTimeUpdateExclusion(principal: String)
    case deregisterPullTimeUpdateExclusion(principal: String)
    /// What scans of `digest` will find from now on (an empty list clears the seed).
    case seedScanFindings(digest: Digest, findings: [ScanFinding])
    /// Stores (or, with `nil`, removes) the creation template for a prefix.
    case creationTemplate(prefix: String, template: String?)
    /// Stores (or, with `nil`, removes) the pull-through cache rule for a prefix.
    case pullThroughRule(prefix: String, rule: String?)
}
