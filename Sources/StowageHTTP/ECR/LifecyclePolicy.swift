import Foundation
import StowageCore

/// An ECR lifecycle policy, parsed and checked against the rule grammar of the ECR user guide.
struct LifecyclePolicy: Sendable, Equatable {
    typealias Rule = LifecycleRule
    typealias TagStatus = LifecycleRule.TagStatus
    typealias CountType = LifecycleRule.CountType

    struct Failure: Error {
        var reason: String
    }

    var rules: [Rule]

    init(_ text: String) throws(Failure) {
        guard let object = try? JSON.parse(text.utf8) as? [String: Any] else {
            throw Failure(reason: "the policy is not a JSON object")
        }
        guard let list = object["rules"] as? [[String: Any]], !list.isEmpty else {
            throw Failure(reason: "the policy needs a non-empty rules array")
        }
        var rules: [Rule] = []
        for (i, rule) in list.enumerated() {
            guard let priority = rule["rulePriority"] as? Int, priority >= 1 else {
                throw Failure(reason: "rules[\(i)].rulePriority must be a positive integer")
            }
            guard let selection = rule["selection"] as? [String: Any] else {
                throw Failure(reason: "rules[\(i)].selection is required")
            }
            guard let status = (selection["tagStatus"] as? String).flatMap(TagStatus.init) else {
                throw Failure(reason: "rules[\(i)].selection.tagStatus must be tagged, untagged or any")
            }
            let prefixes = selection["tagPrefixList"] as? [String] ?? []
            let patterns = selection["tagPatternList"] as? [String] ?? []
            switch status {
            case .tagged:
                guard prefixes.isEmpty != patterns.isEmpty else {
                    throw Failure(
                        reason:
                            "rules[\(i)]: a tagged rule needs exactly one of tagPrefixList and tagPatternList, not empty"
                    )
                }
            case .untagged, .any:
                guard prefixes.isEmpty && patterns.isEmpty else {
                    throw Failure(
                        reason: "rules[\(i)]: tagPrefixList and tagPatternList are only allowed with tagStatus tagged")
                }
            }
            guard patterns.allSatisfy({ $0.filter { $0 == "*" }.count <= 4 }) else {
                throw Failure(reason: "rules[\(i)]: a tag pattern may have at most 4 wildcards")
            }
            guard let countType = (selection["countType"] as? String).flatMap(CountType.init) else {
                throw Failure(reason: "rules[\(i)].selection.countType must be imageCountMoreThan or sinceImagePushed")
            }
            guard let countNumber = selection["countNumber"] as? Int, countNumber >= 1 else {
                throw Failure(reason: "rules[\(i)].selection.countNumber must be a positive integer")
            }
            switch countType {
            case .sinceImagePushed:
                guard selection["countUnit"] as? String == "days" else {
                    throw Failure(reason: "rules[\(i)]: sinceImagePushed needs countUnit days")
                }
            case .imageCountMoreThan:
                guard selection["countUnit"] == nil else {
                    throw Failure(reason: "rules[\(i)]: countUnit is not allowed with imageCountMoreThan")
                }
            }
            guard let action = rule["action"] as? [String: Any], action["type"] as? String == "expire" else {
                throw Failure(reason: "rules[\(i)].action.type must be expire")
            }
            rules.append(
                Rule(
                    priority: priority, tagStatus: status, tagPrefixes: prefixes, tagPatterns: patterns,
                    countType: countType, countNumber: countNumber))
        }
        guard Set(rules.map(\.priority)).count == rules.count else {
            throw Failure(reason: "rulePriority values must be unique")
        }
        let highest = rules.map(\.priority).max()!
        if let any = rules.first(where: { $0.tagStatus == .any }), any.priority != highest {
            throw Failure(reason: "a rule with tagStatus any must have the highest rulePriority")
        }
        self.rules = rules.sorted { $0.priority < $1.priority }
    }
}
