import Crypto
import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import StowageCore
import StowageStorage

/// Issues and checks the passwords of `AWS:<token>` logins.
///
/// A token is `v1.<payload>.<signature>`: the payload (base64url of `account/region/expiry-ms`)
/// names the account-region the bearer acts in and when it expires on the server's clock; the
/// signature is an HMAC-SHA256 of it with the data directory's secret. Checking one costs
/// microseconds and needs no state, and tokens survive restarts.
struct TokenAuthority: Sendable {
    let key: SymmetricKey
    let clock: any RegistryClock

    /// ECR's tokens last 12 hours.
    static let lifetime: Int64 = 12 * 3600 * 1000

    init(secret: [UInt8], clock: any RegistryClock) {
        key = SymmetricKey(data: secret)
        self.clock = clock
    }

    /// A new token for `scope` and when it expires.
    func issue(for scope: Scope) -> (token: String, expiresAt: Timestamp) {
        let expiry = Timestamp(millisecondsSinceEpoch: clock.now().millisecondsSinceEpoch + Self.lifetime)
        let payload = base64URL(Array("\(scope.account)/\(scope.region)/\(expiry.millisecondsSinceEpoch)".utf8))
        let signature = base64URL(Array(HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: key)))
        return ("v1.\(payload).\(signature)", expiry)
    }

    /// Why a token was not accepted.
    enum Rejection: Error, Equatable {
        case malformed
        case badSignature
        case expired
    }

    /// The scope a valid, unexpired token grants.
    func verify(_ token: String) throws(Rejection) -> Scope {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let signature = decodeBase64URL(String(parts[2])) else {
            throw .malformed
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Array(parts[1].utf8), using: key) else {
            throw .badSignature
        }
        guard let payload = decodeBase64URL(String(parts[1])), let text = String(validating: payload, as: UTF8.self)
        else { throw .malformed }
        let fields = text.split(separator: "/")
        guard fields.count == 3, let account = AccountID(String(fields[0])), let region = Region(String(fields[1])),
            let expiry = Int64(fields[2])
        else { throw .malformed }
        guard clock.now().millisecondsSinceEpoch < expiry else { throw .expired }
        return Scope(account: account, region: region)
    }

    /// The query string of a download URL for one blob, valid for an hour of the server's clock.
    func signDownload(scope: Scope, name: RepositoryName, digest: StowageCore.Digest) -> String {
        let expiry = clock.now().millisecondsSinceEpoch + 3600 * 1000
        let payload = "\(scope.account)/\(scope.region)/\(expiry)"
        return
            "X-Stowage-Grant=\(base64URL(Array(payload.utf8)))&X-Stowage-Signature=\(downloadSignature(payload, name: name, digest: digest))"
    }

    /// The scope a signed download URL grants for this blob, if its signature holds and it has not expired.
    func verifyDownload(grant: String, signature: String, name: RepositoryName, digest: StowageCore.Digest) -> Scope? {
        guard let bytes = decodeBase64URL(grant), let payload = String(validating: bytes, as: UTF8.self),
            downloadSignature(payload, name: name, digest: digest) == signature
        else { return nil }
        let fields = payload.split(separator: "/")
        guard fields.count == 3, let account = AccountID(String(fields[0])), let region = Region(String(fields[1])),
            let expiry = Int64(fields[2]), clock.now().millisecondsSinceEpoch < expiry
        else { return nil }
        return Scope(account: account, region: region)
    }

    private func downloadSignature(_ payload: String, name: RepositoryName, digest: StowageCore.Digest) -> String {
        base64URL(
            Array(HMAC<SHA256>.authenticationCode(for: Array("download|\(payload)|\(name)|\(digest)".utf8), using: key))
        )
    }

    /// The scope of a request's `Authorization: Basic base64(AWS:<token>)`.
    func scope(fromAuthorization header: String?) throws(Rejection) -> Scope {
        guard let header, header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6).trimmingSpaces)),
            let credentials = String(data: decoded, encoding: .utf8), credentials.hasPrefix("AWS:")
        else { throw .malformed }
        return try verify(String(credentials.dropFirst(4)))
    }
}

func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_")
        .replacing("=", with: "")
}

func decodeBase64URL(_ text: String) -> [UInt8]? {
    var base64 = text.replacing("-", with: "+").replacing("_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64).map(Array.init)
}
