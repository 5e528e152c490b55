import HashTreeCollections

extension RegistryState {
    mutating func changeRegistrySettings(_ change: RegistrySettingChange, in scope: Scope, at time: Timestamp)
        throws(RegistryError)
    {
        var settings = self[scope].registry ?? RegistrySettings()
        switch change {
        case .policy(let text): settings.policy = text
        case .replication(let configuration): settings.replication = configuration
        case .scanning(let configuration): settings.scanning = configuration
        case .signing(let configuration): settings.signing = configuration
        case .accountSetting(let name, let value): settings.accountSettings[name] = value
        case .registerPullTimeUpdateExclusion(let principal, let limit):
            guard settings.pullTimeUpdateExclusions[principal] == nil else {
                throw .settingAlreadyExists("pull-time update exclusion \(principal)")
            }
            if let limit, settings.pullTimeUpdateExclusions.count >= limit {
                throw .limitExceeded("pull-time update exclusions", limit: limit)
            }
            settings.pullTimeUpdateExclusions[principal] = time
        case .deregisterPullTimeUpdateExclusion(let principal):
            guard settings.pullTimeUpdateExclusions[principal] != nil else {
                throw .settingNotFound("pull-time update exclusion \(principal)")
            }
            settings.pullTimeUpdateExclusions[principal] = nil
        case .seedScanFindings(let digest, let findings):
            var seeds = settings.scanFindingSeeds ?? [:]
            seeds[digest] = findings.isEmpty ? nil : findings
            settings.scanFindingSeeds = seeds.isEmpty ? nil : seeds
        case .creationTemplate(let prefix, let template):
            settings.creationTemplates = settings.creationTemplates.setting(prefix, to: template)
        case .createCreationTemplate(let prefix, let fields):
            guard settings.creationTemplates?[prefix] == nil else { throw .templateAlreadyExists(prefix: prefix) }
            let template = CreationTemplate(prefix: prefix, createdAt: time, updatedAt: time, fields: fields)
            settings.creationTemplates = settings.creationTemplates.setting(prefix, to: template)
        case .updateCreationTemplate(let prefix, let changes):
            guard var template = settings.creationTemplates?[prefix] else { throw .templateNotFound(prefix: prefix) }
            template.fields = template.fields.updated(with: changes)
            template.updatedAt = time
            settings.creationTemplates = settings.creationTemplates.setting(prefix, to: template)
        case .deleteCreationTemplate(let prefix):
            guard settings.creationTemplates?[prefix] != nil else { throw .templateNotFound(prefix: prefix) }
            settings.creationTemplates = settings.creationTemplates.setting(prefix, to: nil)
        case .pullThroughRule(let prefix, let rule):
            settings.pullThroughRules = settings.pullThroughRules.setting(prefix, to: rule)
        case .createPullThroughRule(var rule):
            guard settings.pullThroughRules?[rule.prefix] == nil else {
                throw .pullThroughRuleAlreadyExists(prefix: rule.prefix)
            }
            (rule.createdAt, rule.updatedAt) = (time, time)
            settings.pullThroughRules = settings.pullThroughRules.setting(rule.prefix, to: rule)
        case .updatePullThroughRule(let prefix, let credentialArn, let customRoleArn):
            guard var rule = settings.pullThroughRules?[prefix] else { throw .pullThroughRuleNotFound(prefix: prefix) }
            if let credentialArn { rule.credentialArn = credentialArn }
            if let customRoleArn { rule.customRoleArn = customRoleArn }
            rule.updatedAt = time
            settings.pullThroughRules = settings.pullThroughRules.setting(prefix, to: rule)
        case .deletePullThroughRule(let prefix):
            guard settings.pullThroughRules?[prefix] != nil else { throw .pullThroughRuleNotFound(prefix: prefix) }
            settings.pullThroughRules = settings.pullThroughRules.setting(prefix, to: nil)
        }
        modifyScope(scope) { $0.registry = settings }
    }
}

extension Optional {
    /// An optional table with `key` set (or removed, for `nil`); `nil` once it is empty.
    fileprivate func setting<Value>(_ key: String, to value: Value?) -> [String: Value]?
    where Wrapped == [String: Value] {
        var table = self ?? [:]
        table[key] = value
        return table.isEmpty ? nil : table
    }
}
