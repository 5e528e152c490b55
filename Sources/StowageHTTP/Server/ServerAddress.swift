import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import StowageCore
import Synchronization

/// The address the server really listens on (`--port 0` picks one), filled in once it runs.
final class ServerAddress: Sendable {
    private let port: Mutex<Int>
    let host: String

    init(host: String, port: Int) {
        self.host = host
        self.port = Mutex(port)
    }

    func bound(to port: Int) { self.port.withLock { $0 = port } }

    /// `host:port`, as pushed to: the prefix of every `repositoryUri`.
    var authority: String { "\(host):\(port.withLock { $0 })" }

    /// The registry host of an account-region: `<account>.dkr.ecr.<region>.<registryHost>` with
    /// `--registry-host`, else this server's `host:port`.
    func registry(for scope: Scope, host registryHost: String?) -> String {
        guard let registryHost else { return authority }
        return "\(scope.account).dkr.ecr.\(scope.region).\(registryHost)"
    }
}
