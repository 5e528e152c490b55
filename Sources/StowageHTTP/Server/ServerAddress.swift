import FoundationEssentials
import HTTPTypes
import HashTreeCollections
import StowageCore
import Synchronization

/// Loopback for the wildcard addresses (`0.0.0.0`, `::`), else `host` itself: where a client on
/// this machine reaches a listener on `host`.
public func reachableHost(_ host: String) -> String {
    ["0.0.0.0", "::", "[::]", ""].contains(host) ? "127.0.0.1" : host
}

/// The address the server really listens on (`--port 0` picks one), filled in once it runs.
final class ServerAddress: Sendable {
    private let port: Mutex<Int>
    let host: String

    init(host: String, port: Int) {
        self.host = host
        self.port = Mutex(port)
    }

    func bound(to port: Int) { self.port.withLock { $0 = port } }

    /// The host a client on this machine reaches the listener at: loopback for a wildcard address.
    var reachableHost: String { StowageHTTP.reachableHost(host) }

    /// `host:port`, as pushed to when a client does not say how it reached the server.
    var authority: String { "\(reachableHost):\(port.withLock { $0 })" }

    /// The authority a client used: its `Host` header when that is a plain `host[:port]` (behind a
    /// container's port mapping it differs from the listener), else ``authority``.
    func authority(seenBy hostHeader: String?) -> String {
        guard let hostHeader, !hostHeader.isEmpty, hostHeader.utf8.count <= 261,
            hostHeader.utf8.allSatisfy({ byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"),
                    UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "_"):
                    true
                default: false
                }
            })
        else { return authority }
        return hostHeader
    }

    /// The registry host of an account-region: `<account>.dkr.ecr.<region>.<registryHost>` with
    /// `--registry-host`, else the authority the client used (``authority(seenBy:)``).
    func registry(for scope: Scope, host registryHost: String?, seenBy hostHeader: String?) -> String {
        guard let registryHost else { return authority(seenBy: hostHeader) }
        return "\(scope.account).dkr.ecr.\(scope.region).\(registryHost)"
    }
}
