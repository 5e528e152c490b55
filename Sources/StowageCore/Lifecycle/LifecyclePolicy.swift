/// An ECR lifecycle policy: its text exactly as it was put (ECR returns it verbatim) and its
/// rules, read from the text once and checked against the rule grammar of the ECR user guide.
///
/// Stored as its text. A stored text that the grammar refuses (one from before a rule of the
/// grammar was checked) loads with no rules: it is kept and returned, and expires nothing.
public struct LifecyclePolicy: Hashable, Sendable, Codable {
    /// Why a policy text does not follow the grammar, naming the rule and field.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The text as it was put.
    public let text: String
    /// The rules in priority order.
    public let rules: [LifecycleRule]

    /// Reads and checks a policy text.
    public init(_ text: String) throws(Failure) {
        self.text = text
        rules = try Self.rules(of: text)
    }

    /// A policy text as stored: read, or kept without rules when the grammar refuses it.
    public init(stored text: String) {
        self.text = text
        rules = (try? Self.rules(of: text)) ?? []
    }

    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public static func == (a: Self, b: Self) -> Bool { a.text == b.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    private static func rules(of text: String) throws(Failure) -> [LifecycleRule] {
        guard let object = try? JSONValue.parse(text), object.objectValue != nil else {
            throw Failure(reason: "the policy is not a JSON object")
        }
        guard let list = object["rules"]?.arrayValue, !list.isEmpty, list.allSatisfy({ $0.objectValue != nil }) else {
            throw Failure(reason: "the policy needs a non-empty rules array")
        }
        var rules: [LifecycleRule] = []
        for (i, rule) in list.enumerated() {
            guard case .int(let priority)? = rule["rulePriority"], priority >= 1 else {
                throw Failure(reason: "rules[\(i)].rulePriority must be a positive integer")
            }
            guard let selection = rule["selection"], selection.objectValue != nil else {
                throw Failure(reason: "rules[\(i)].selection is required")
            }
            guard let status = selection["tagStatus"]?.stringValue.flatMap(LifecycleRule.TagStatus.init) else {
                throw Failure(reason: "rules[\(i)].selection.tagStatus must be tagged, untagged or any")
            }
            let prefixes = selection["tagPrefixList"]?.stringArray ?? []
            let patterns = selection["tagPatternList"]?.stringArray ?? []
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
            guard let countType = selection["countType"]?.stringValue.flatMap(LifecycleRule.CountType.init) else {
                throw Failure(reason: "rules[\(i)].selection.countType must be imageCountMoreThan or sinceImagePushed")
            }
            guard case .int(let countNumber)? = selection["countNumber"], countNumber >= 1 else {
                throw Failure(reason: "rules[\(i)].selection.countNumber must be a positive integer")
            }
            switch countType {
            case .sinceImagePushed:
                guard selection["countUnit"]?.stringValue == "days" else {
                    throw Failure(reason: "rules[\(i)]: sinceImagePushed needs countUnit days")
                }
            case .imageCountMoreThan:
                guard selection["countUnit"] == nil else {
                    throw Failure(reason: "rules[\(i)]: countUnit is not allowed with imageCountMoreThan")
                }
            }
            guard rule["action"]?["type"]?.stringValue == "expire" else {
                throw Failure(reason: "rules[\(i)].action.type must be expire")
            }
            rules.append(
                LifecycleRule(
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
        return rules.sorted { $0.priority < $1.priority }
    }
}
