import HashTreeCollections

extension RegistryState {
    mutating func putManifest(
        _ manifest: Manifest, tags: [Tag], in name: RepositoryName, scope: Scope, at time: Timestamp,
        options: PutManifestOptions?
    ) throws(RegistryError) {
        try checkPut(manifest, tags: tags, in: name, scope: scope, options: options)
        let references = manifest.references
        // The checks' copy of the repository is gone by now, so its trees change in place
        // (held across the change, it made every push copy a node of each tree it touched).
        modifyRepository(name, in: scope) { repository in
            if repository.images[manifest.digest] == nil {
                repository.images[manifest.digest] = Image(manifest: manifest, pushedAt: time)
                if let subject = references.subject {
                    repository.referrers[subject, default: []].insertSorted(manifest.digest)
                }
            }
            for tag in tags { repository.point(tag, at: manifest.digest) }
        }
    }

    /// Why `putManifest` would refuse `manifest`, if it would.
    private func checkPut(
        _ manifest: Manifest, tags: [Tag], in name: RepositoryName, scope: Scope, options: PutManifestOptions?
    ) throws(RegistryError) {
        let repository = try self.repository(name, in: scope)
        if options?.refuseIfPresent == true, repository.images[manifest.digest] != nil,
            tags.allSatisfy({ repository.tags[$0]?.digest == manifest.digest })
        {
            throw .imageAlreadyExists(name, manifest.digest, tag: tags.first)
        }
        let references = manifest.references
        let sparse = options?.allowMissingReferences == true
        // A sparse registry may lack layers and child manifests, never the config.
        let required = sparse ? references.config.map { [$0] } ?? [] : references.blobs
        let missingBlobs = unique(required.map(\.digest).filter { repository.blobs[$0] == nil })
        let missingManifests =
            sparse ? [] : unique(references.manifests.map(\.digest).filter { repository.images[$0] == nil })
        guard missingBlobs.isEmpty && missingManifests.isEmpty else {
            throw .manifestReferencesMissing(name, blobs: missingBlobs, manifests: missingManifests)
        }
        for tag in tags { try repository.checkTagMove(tag, to: manifest.digest) }
    }

    mutating func untagImage(_ tag: Tag, in name: RepositoryName, scope: Scope, pruneUntaggedImage prune: Bool)
        throws(RegistryError)
    {
        guard let digest = try repository(name, in: scope).tags[tag]?.digest else { throw .tagNotFound(name, tag) }
        modifyRepository(name, in: scope) { repository in
            repository.tags[tag] = nil
            repository.images[digest]!.tags.remove(tag)
            if prune && repository.images[digest]!.tags.isEmpty { repository.removeImage(digest) }
        }
    }

    mutating func deleteManifest(_ digest: Digest, in name: RepositoryName, scope: Scope, refuseIfReferenced: Bool)
        throws(RegistryError)
    {
        do {  // the checks' copy of the repository ends here, so its trees change in place below
            let repository = try repository(name, in: scope)
            guard repository.images[digest] != nil else { throw .manifestNotFound(name, reference: digest.rawValue) }
            if refuseIfReferenced {
                let parents = repository.indexes(naming: digest)
                guard parents.isEmpty else { throw .imageReferencedByIndex(name, digest, parents: parents) }
            }
        }
        modifyRepository(name, in: scope) { $0.removeImage(digest) }
    }

    /// Removes images a lifecycle policy expired, all or none.
    mutating func expireImages(_ digests: [Digest], in name: RepositoryName, scope: Scope) throws(RegistryError) {
        do {
            let repository = try repository(name, in: scope)
            for digest in digests where repository.images[digest] == nil {
                throw .manifestNotFound(name, reference: digest.rawValue)
            }
        }
        modifyRepository(name, in: scope) { repository in
            for digest in digests { repository.removeImage(digest) }
        }
    }
}

extension Repository {
    /// The digests of the indexes (manifest lists) in this repository that name `digest` as a child, in order.
    public func indexes(naming digest: Digest) -> [Digest] {
        images.values.filter { image in image.manifest.references.manifests.contains { $0.digest == digest } }
            .map(\.digest).sorted()
    }
}
