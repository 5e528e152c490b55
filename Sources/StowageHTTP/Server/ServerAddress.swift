import Foundation
import HTTPTypes
import HashTreeCollections
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
}
