import HashTreeCollections

extension RegistryState {
    /// A test seam: every way the state could be internally inconsistent, described; empty when sound.
    public func _checkInvariants() -> [String] {
        var problems: [String] = []
        for (scope, state) in scopes {
            for (name, repository) in state.repositories {
                problems += repository.invariantProblems(keyedAs: name).map { "\(scope)/\(name): \($0)" }
            }
            for (id, upload) in state.uploads {
                if upload.id != id { problems.append("\(scope): upload \(id) keyed under another id") }
                if state.repositories[upload.repository] == nil {
                    problems.append("\(scope): upload \(id) belongs to missing repository \(upload.repository)")
                }
                if upload.size < 0 { problems.append("\(scope): upload \(id) has negative size") }
            }
        }
        for (name, checkpoint) in checkpoints where checkpoint.name != name || checkpoint.sequence > sequence {
            problems.append("checkpoint \(name) is inconsistent")
        }
        return problems
    }
}

extension Repository {
    fileprivate func invariantProblems(keyedAs key: RepositoryName) -> [String] {
        var problems: [String] = []
        if name != key { problems.append("keyed under another name") }
        for (tag, target) in tags {
            let digest = target.digest
            guard let image = images[digest] else {
                problems.append("tag \(tag) points at missing image \(digest)")
                continue
            }
            if !image.tags.contains(tag) { problems.append("image \(digest) does not list its tag \(tag)") }
        }
        for (digest, image) in images {
            if image.digest != digest { problems.append("image \(digest) keyed under another digest") }
            for tag in image.tags where tags[tag]?.digest != digest {
                problems.append("image \(digest) lists tag \(tag) that points elsewhere")
            }
            if let subject = image.manifest.references.subject, referrers[subject]?.contains(digest) != true {
                problems.append("image \(digest) missing from referrers of \(subject)")
            }
        }
        for (subject, list) in referrers {
            if list.isEmpty { problems.append("empty referrers list for \(subject)") }
            if list != list.sorted() { problems.append("referrers of \(subject) not sorted") }
            for digest in list where images[digest]?.manifest.references.subject != subject {
                problems.append("referrers of \(subject) list \(digest), which does not refer to it")
            }
        }
        for (digest, size) in blobs where size < 0 { problems.append("blob \(digest) has negative size") }
        return problems
    }
}
