import HashTreeCollections
import StowageCore
import Synchronization

/// A dictionary's keys in order, per repository, remembered while the dictionary stays the same
/// value: `GET /tags/list` (a repository's tags) and `DescribeImages` (its image digests) do not
/// sort every key on every request.
///
/// The state is immutable and its dictionaries persistent: an unchanged dictionary is the very same
/// tree, which `==` recognises at once. Measured on a repository of 2,000 tags, sorting was 41% of
/// a tag listing's CPU; on one of 1,000 images, 50% of a `DescribeImages` call's. A few hundred
/// repositories are remembered; beyond that, any entry goes.
final class SortedKeys<Key: Hashable & Comparable & Sendable, Value: Equatable & Sendable>: Sendable {
    private struct Owner: Hashable {
        var scope: Scope
        var name: RepositoryName
    }

    private struct Entry {
        var dictionary: TreeDictionary<Key, Value>
        var sorted: [Key]
    }

    private let entries = Mutex<[Owner: Entry]>([:])
    static var capacity: Int { 256 }

    /// The keys of `dictionary`, which belongs to repository `name` in `scope`, in order.
    func sorted(_ dictionary: TreeDictionary<Key, Value>, of name: RepositoryName, in scope: Scope) -> [Key] {
        let owner = Owner(scope: scope, name: name)
        if let entry = entries.withLock({ $0[owner] }), entry.dictionary == dictionary { return entry.sorted }
        let sorted = dictionary.keys.sorted()
        entries.withLock { entries in
            if entries.count >= Self.capacity, entries[owner] == nil, let victim = entries.keys.first {
                entries[victim] = nil
            }
            entries[owner] = Entry(dictionary: dictionary, sorted: sorted)
        }
        return sorted
    }
}

extension SortedKeys where Key == Tag, Value == TagTarget {
    /// A repository's tags in lexical order.
    func sortedTags(of repository: Repository, in scope: Scope) -> [Tag] {
        sorted(repository.tags, of: repository.name, in: scope)
    }
}
