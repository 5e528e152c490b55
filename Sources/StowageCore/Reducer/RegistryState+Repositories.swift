import HashTreeCollections

extension RegistryState {
    mutating func createRepository(
        _ name: RepositoryName, settings: RepositorySettings, in scope: Scope, at time: Timestamp
    ) throws(RegistryError) {
        guard self[scope].repositories[name] == nil else { throw .repositoryAlreadyExists(name) }
        scopes[scope, default: ScopeState()].repositories[name] = Repository(
            name: name, createdAt: time, settings: settings)
    }

    mutating func deleteRepository(_ name: RepositoryName, force: Bool, in scope: Scope) throws(RegistryError) {
        let repository = try self.repository(name, in: scope)
        guard force || repository.images.isEmpty else {
            throw .repositoryNotEmpty(name, images: repository.images.count)
        }
        let uploads = self[scope].uploads.values.filter { $0.repository == name }.map(\.id)
        modifyScope(scope) { state in
            state.repositories[name] = nil
            for id in uploads { state.uploads[id] = nil }
        }
    }

    mutating func tagRepository(
        _ name: RepositoryName, with tags: [ResourceTag], limit: Int?, in scope: Scope
    ) throws(RegistryError) {
        var settings = try repository(name, in: scope).settings
        for tag in tags {
            if let i = settings.resourceTags.firstIndex(where: { $0.key == tag.key }) {
                settings.resourceTags[i].value = tag.value
            } else {
                settings.resourceTags.append(tag)
            }
        }
        if let limit, settings.resourceTags.count > limit { throw .tooManyResourceTags(name, limit: limit) }
        modifyRepository(name, in: scope) { $0.settings = settings }
    }
}

extension Repository {
    /// Throws when moving `tag` to `digest` is forbidden by the tag mutability settings.
    func checkTagMove(_ tag: Tag, to digest: Digest) throws(RegistryError) {
        if let current = tags[tag]?.digest, current != digest, settings.isImmutable(tag) {
            throw .tagImmutable(name, tag, current: current)
        }
    }

    /// Points `tag` at `digest`, taking it off the image it was on. The old image stays.
    mutating func point(_ tag: Tag, at digest: Digest) {
        let previous = tags.updateValue(images[digest]!.tagTarget, forKey: tag)?.digest
        guard previous != digest else { return }
        if let previous { images[previous]!.tags.remove(tag) }
        images[digest]!.tags.insert(tag)
    }

    /// Removes an image, its tags and its entry in the referrers index.
    mutating func removeImage(_ digest: Digest) {
        guard let image = images.removeValue(forKey: digest) else { return }
        for tag in image.tags { tags[tag] = nil }
        if let subject = image.manifest.references.subject {
            referrers[subject]?.removeSorted(digest)
            if referrers[subject]?.isEmpty == true { referrers[subject] = nil }
        }
    }
}
