public import HashTreeCollections

extension TreeDictionary {
    /// The dictionary's own copy of `key` when it holds an equal one, else `key`: a state that
    /// names one digest in many places (an image's tags, a descriptor and its blob link) keeps
    /// one string for all of them instead of a 71-character copy at each.
    public func storedKey(_ key: Key) -> Key {
        index(forKey: key).map { self[$0].key } ?? key
    }
}
