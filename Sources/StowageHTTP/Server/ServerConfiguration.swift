import Foundation
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
