extension Command {
    /// What the command does, in a line a person reads at a glance: the repository, and the
    /// digests, tags, offsets and values it names (digests whole, so they can be searched for).
    public var summary: String {
        switch self {
        case .createRepository(let name, let settings):
            return
                "create repository \(name) (\(settings.tagMutability.rawValue)\(settings.scanOnPush ? ", scan on push" : ""))"
        case .deleteRepository(let name, let force): return "delete repository \(name)\(force ? " (forced)" : "")"
        case .setTagMutability(let name, let mutability, let exclusions):
            return "\(name): tag mutability \(mutability.rawValue)"
                + (exclusions.isEmpty ? "" : " except \(exclusions.joined(separator: ", "))")
        case .setScanOnPush(let name, let on): return "\(name): scan on push \(on ? "on" : "off")"
        case .setRepositoryPolicy(let name, let policy):
            return "\(name): repository policy \(policy == nil ? "removed" : "set (\(policy!.utf8.count) bytes)")"
        case .setLifecyclePolicy(let name, let policy):
            return "\(name): lifecycle policy "
                + (policy.map { "set: \($0.rules.count) rule(s), \($0.text.utf8.count) bytes" } ?? "removed")
        case .setLifecyclePreview(let name, let policy):
            return "\(name): lifecycle preview " + (policy == nil ? "cleared" : "started")
        case .tagRepository(let name, let tags, _):
            return "\(name): resource tags " + tags.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        case .untagRepository(let name, let keys):
            return "\(name): resource tags removed: " + keys.joined(separator: ", ")
        case .changeRegistrySettings(let change): return "registry: " + change.summary
        case .startUpload(let id, let name): return "\(name): upload \(id) started"
        case .appendChunk(let id, let name, let offset, let length):
            return "\(name): upload \(id) chunk of \(length) bytes at \(offset)"
        case .commitUpload(let id, let name, let claimed, let computed, let size, _):
            return claimed == computed
                ? "\(name): upload \(id) committed as \(computed) (\(size) bytes)"
                : "\(name): upload \(id) commit as \(claimed), but its \(size) bytes are \(computed)"
        case .cancelUpload(let id, let name): return "\(name): upload \(id) cancelled"
        case .endUpload(let id, let name, let reason):
            return "\(name): upload \(id) ended: "
                + (reason == .expired
                    ? "expired, untouched for the upload timeout" : "a crash took bytes it had acknowledged")
        case .putBlob(let name, let digest, let size): return "\(name): blob \(digest) (\(size) bytes)"
        case .mountBlob(let name, let digest, let source):
            return "\(name): blob \(digest) mounted from " + (source.map { $0.rawValue } ?? "any repository holding it")
        case .deleteBlobLink(let name, let digest): return "\(name): blob \(digest) unlinked"
        case .putManifest(let name, let manifest, let tag, let options):
            let tags = Command.tags(tag, options)
            return "\(name): image \(manifest.digest)"
                + (tags.isEmpty ? "" : " tagged " + tags.map(\.rawValue).joined(separator: ", "))
                + (options?.refuseIfPresent == true ? " (unless it is there)" : "")
        case .tagImage(let name, let tag, let digest): return "\(name): tag \(tag) -> \(digest)"
        case .untagImage(let name, let tag, let prune):
            return "\(name): tag \(tag) removed\(prune ? " (and its image, if it was the last tag)" : "")"
        case .deleteManifest(let name, let digest, _): return "\(name): image \(digest) deleted with its tags"
        case .setImageArchived(let name, let digest, let archived):
            return "\(name): image \(digest) \(archived ? "archived" : "restored to STANDARD")"
        case .recordImageScan(let name, let digest, let findings):
            return "\(name): image \(digest) scanned: \(findings.count) finding(s)"
        case .expireImages(let name, let digests, let rules):
            let listed = digests.enumerated().map { i, digest in
                digest.rawValue + (rules.flatMap { i < $0.count ? " (rule \($0[i]))" : nil } ?? "")
            }
            return "\(name): lifecycle expired " + listed.joined(separator: ", ")
        case .reset(.everything): return "reset: every account and region emptied"
        case .reset(.scope): return "reset: this account-region emptied"
        case .checkpoint(let name): return "checkpoint \(name)"
        case .restore(_, .rewind(let sequence, let checkpoint?)):
            return "rewind to checkpoint \(checkpoint) (the state after record \(sequence))"
        case .restore(_, .rewind(let sequence, nil)): return "rewind to the state after record \(sequence)"
        case .restore(_, .importFile(let bytes)): return "import of an export file (\(bytes) bytes)"
        case .setClock(let offset): return "clock set to \(Self.duration(offset)) from its source"
        case .refuseRequest(_, _, let request): return request
        case .configure(let switches): return "switches: \(switches.summary)"
        case .injectFault(_, _, let request, let answer): return "\(request) answered by an injected fault: \(answer)"
        }
    }

    /// `+1h30m0s`, `-2d0h0m0s`, `+0s`: an offset as a person reads it.
    static func duration(_ milliseconds: Int64) -> String {
        let sign = milliseconds < 0 ? "-" : "+"
        var rest = milliseconds.magnitude / 1000
        let days = rest / 86_400
        rest %= 86_400
        let parts = [(days, "d"), (rest / 3600, "h"), (rest % 3600 / 60, "m"), (rest % 60, "s")]
        let shown = parts.drop { $0.0 == 0 && $0.1 != "s" }
        return sign + shown.map { "\($0.0)\($0.1)" }.joined()
    }
}

extension RegistrySettingChange {
    /// The change, in a line.
    public var summary: String {
        switch self {
        case .policy(let text): "registry policy " + (text == nil ? "removed" : "set")
        case .replication(let configuration):
            configuration.map {
                "replication: "
                    + $0.rules.map { $0.destinations.map(\.rawValue).joined(separator: " ") }
                    .joined(separator: "; ")
            } ?? "replication removed"
        case .scanning(let configuration):
            configuration.map {
                "scanning \($0.scanType.rawValue): "
                    + $0.rules.map { "\($0.scanFrequency.rawValue) \($0.repositoryFilters.joined(separator: ","))" }
                    .joined(separator: "; ")
            } ?? "scanning configuration removed"
        case .signing(let configuration):
            configuration.map { "signing: \($0.rules.count) rule(s)" } ?? "signing configuration removed"
        case .accountSetting(let name, let value): "account setting \(name) = \(value)"
        case .registerPullTimeUpdateExclusion(let principal, _): "pull-time update exclusion \(principal) registered"
        case .deregisterPullTimeUpdateExclusion(let principal): "pull-time update exclusion \(principal) removed"
        case .seedScanFindings(let digest, let findings): "scan findings for \(digest): \(findings.count)"
        case .creationTemplate(let prefix, let template):
            "creation template \(prefix) " + (template == nil ? "removed" : "stored")
        case .createCreationTemplate(let prefix, let fields):
            "creation template \(prefix) created for "
                + (fields.appliedFor ?? []).map(\.rawValue).joined(separator: ", ")
        case .updateCreationTemplate(let prefix, _): "creation template \(prefix) updated"
        case .deleteCreationTemplate(let prefix): "creation template \(prefix) deleted"
        case .pullThroughRule(let prefix, let rule):
            "pull-through rule \(prefix) " + (rule == nil ? "removed" : "stored")
        case .createPullThroughRule(let rule):
            "pull-through rule \(rule.prefix) -> \(Self.withoutCredentials(rule.upstreamRegistryURL))"
        case .updatePullThroughRule(let prefix, _, _): "pull-through rule \(prefix) updated"
        case .deletePullThroughRule(let prefix): "pull-through rule \(prefix) deleted"
        }
    }

    /// A URL with any `user:password@` taken out, for a line that ends up in logs.
    static func withoutCredentials(_ url: String) -> String {
        let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1].isEmpty, let at = parts[2].lastIndex(of: "@") else { return url }
        var cleaned = parts.map(String.init)
        cleaned[2] = String(parts[2][parts[2].index(after: at)...])
        return cleaned.joined(separator: "/")
    }
}
