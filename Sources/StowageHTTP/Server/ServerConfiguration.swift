import FoundationEssentials
import HTTPTypes
import HashTreeCollections
public import StowageCore

/// How `/v2` authenticates clients.
public enum AuthMode: String, Sendable, CaseIterable {
    /// Basic `AWS:<token>`, with tokens from `GetAuthorizationToken` or `stowage login-password`.
    case ecr
    /// No authentication: every request is the default account and region.
    case none
}

/// Whose behaviour `/v2` follows where real ECR and the open distribution-spec differ.
public enum Profile: String, Sendable, CaseIterable {
    /// As AWS ECR: no repository is created by a push; `n` above 1000 is refused.
    case ecr
    /// As an open registry: a push creates its repository; any `n` is honoured.
    case spec
}

/// What the HTTP layer needs to know besides the engine.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var auth: AuthMode
    /// Create a repository on the first push to it, instead of answering `NAME_UNKNOWN` as ECR does.
    public var createOnPush: Bool
    /// How often unreferenced blobs are looked for (only after deletes or resets).
    public var garbageCollectionInterval: Duration
    /// When set, `/_admin` requires `Authorization: Bearer <adminToken>`.
    public var adminToken: String?
    /// When set, `/_admin` is served on this port (0: a free one) instead of the main listener.
    public var adminPort: Int?
    /// The largest file `POST /_admin/import` accepts.
    public var maxImportBytes: Int
    /// The account each AWS access key acts in on the ECR API (a 12-digit key is its own account).
    public var accounts: [String: AccountID]
    /// Accept image manifests whose layers, and indexes whose child manifests, the repository lacks
    /// (the distribution-spec allows a registry to); off by default, as in ECR.
    public var sparseManifests = false
    /// Uploads nobody touches for this long (of the server's clock) end, logged as expired.
    public var uploadTimeout: Duration = .seconds(24 * 3600)
    /// When set, upload sessions advertise `OCI-Chunk-Min-Length` (the smallest chunk but the last).
    public var chunkMinLength: Int64?
    /// Where ECR and the spec differ, whose behaviour to follow.
    public var profile: Profile = .ecr
    /// When set (`localhost:5000`), repository URIs name ECR-shaped hosts,
    /// `<account>.dkr.ecr.<region>.<registryHost>`; a request to such a host acts in that
    /// account-region whether or not this is set.
    public var registryHost: String?

    public init(
        host: String = "127.0.0.1", port: Int = 5000, auth: AuthMode = .ecr, createOnPush: Bool = false,
        garbageCollectionInterval: Duration = .seconds(5), adminToken: String? = nil, maxImportBytes: Int = 1 << 30,
        accounts: [String: AccountID] = [:], adminPort: Int? = nil
    ) {
        self.adminPort = adminPort
        self.accounts = accounts
        self.adminToken = adminToken
        self.maxImportBytes = maxImportBytes
        self.host = host
        self.port = port
        self.auth = auth
        self.createOnPush = createOnPush
        self.garbageCollectionInterval = garbageCollectionInterval
    }
}

extension Scope {
    /// The account-region an ECR-shaped host names: `123456789012.dkr.ecr.eu-west-1.<anything>`.
    public init?(host: String) {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        let labels = name.split(separator: ".").map(String.init)
        guard labels.count >= 5, labels[1] == "dkr", labels[2] == "ecr", let account = AccountID(labels[0]),
            let region = Region(labels[3])
        else { return nil }
        self.init(account: account, region: region)
    }
}
