import StowageCore
import Synchronization

/// When each image was last pulled (a manifest GET), for ECR's `lastRecordedPullTime`.
///
/// Kept in memory, not in the log: recording every pull as a command would put an fsync on the
/// pull path. Pull times are therefore lost on restart, and not part of exports or history.
final class PullTimes: Sendable {
    private let times = Mutex<[String: Timestamp]>([:])

    private static func key(_ scope: Scope, _ name: RepositoryName, _ digest: Digest) -> String {
        "\(scope)|\(name)|\(digest)"
    }

    func record(_ scope: Scope, _ name: RepositoryName, _ digest: Digest, at time: Timestamp) {
        times.withLock { $0[Self.key(scope, name, digest)] = time }
    }

    func last(_ scope: Scope, _ name: RepositoryName, _ digest: Digest) -> Timestamp? {
        times.withLock { $0[Self.key(scope, name, digest)] }
    }
}
