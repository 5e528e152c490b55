/// The settings of one account's registry in one region (ECR's registry-level API).
///
/// Documents are typed values, checked once where they arrived; each is stored as its JSON text,
/// as format v1 stored it (see ``RegistryDocument``).
public struct RegistrySettings: Hashable, Sendable, Codable {
    public var policy: String?
    public var replication: ReplicationConfiguration?
    public var scanning: ScanningConfiguration?
    public var signing: SigningConfiguration?
    /// `PutAccountSetting` values by name.
    public var accountSettings: [String: String]
    /// IAM principals whose pulls do not update `lastRecordedPullTime`, with when they were registered.
    public var pullTimeUpdateExclusions: [String: Timestamp]
    /// The findings a scan of each digest reports (seeded through the admin API; none by default).
    public var scanFindingSeeds: [Digest: [ScanFinding]]?
    /// Repository creation templates by prefix (`ROOT` for all).
    public var creationTemplates: [String: CreationTemplate]?
    /// Pull-through cache rules by ECR repository prefix (`ROOT` for all).
    public var pullThroughRules: [String: PullThroughRule]?

    public init() {
        accountSettings = [:]
        pullTimeUpdateExclusions = [:]
    }

    /// The creation template for `use` that covers `name`: the one with the longest prefix, else
    /// the ROOT template, if that one applies to `use`.
    public func template(covering name: RepositoryName, for use: CreationTemplate.Use) -> CreationTemplate? {
        covering(name, in: creationTemplates ?? [:]).flatMap { $0.applies(to: use) ? $0 : nil }
    }

    /// The pull-through cache rule that covers `name`: the longest prefix, else ROOT.
    public func pullThroughRule(covering name: RepositoryName) -> PullThroughRule? {
        covering(name, in: pullThroughRules ?? [:])
    }
}

/// One change to the registry-level settings.
public enum RegistrySettingChange: Hashable, Sendable, Codable {
    case policy(String?)
    case replication(ReplicationConfiguration?)
    case scanning(ScanningConfiguration?)
    case signing(SigningConfiguration?)
    case accountSetting(name: String, value: String)
    /// Registers an exclusion; refused when it is there, or when `limit` exclusions are (ECR allows 20).
    case registerPullTimeUpdateExclusion(principal: String, limit: Int? = nil)
    case deregisterPullTimeUpdateExclusion(principal: String)
    /// What scans of `digest` will find from now on (an empty list clears the seed).
    case seedScanFindings(digest: Digest, findings: [ScanFinding])
    /// Stores (or, with `nil`, removes) a creation template as given. Written by Stowage before
    /// templates were checked by the reducer; kept so those logs replay. New writes use the three below.
    case creationTemplate(prefix: String, template: CreationTemplate?)
    /// Creates the template for `prefix` (created and updated at the record's time); refused when there is one.
    case createCreationTemplate(prefix: String, fields: CreationTemplate.Fields)
    /// Replaces the given fields of the template for `prefix` (updated at the record's time); refused when there is none.
    case updateCreationTemplate(prefix: String, changes: CreationTemplate.Fields)
    /// Removes the template for `prefix`; refused when there is none.
    case deleteCreationTemplate(prefix: String)
    /// Stores (or removes) a pull-through cache rule as given. Like ``creationTemplate(prefix:template:)``:
    /// kept so older logs replay.
    case pullThroughRule(prefix: String, rule: PullThroughRule?)
    /// Creates the pull-through rule for `rule.prefix` (its times are the record's); refused when there is one.
    case createPullThroughRule(PullThroughRule)
    /// Sets a rule's credential and role (`nil` leaves one as it is); refused when there is no rule.
    case updatePullThroughRule(prefix: String, credentialArn: String?, customRoleArn: String?)
    /// Removes the pull-through rule for `prefix`; refused when there is none.
    case deletePullThroughRule(prefix: String)
}
