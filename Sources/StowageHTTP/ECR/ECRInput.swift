import FoundationEssentials
import StowageCore

/// A request body of the ECR JSON API, with typed access that refuses what the service model
/// forbids (`InvalidParameterException`), as ECR does where boto3 does not check client-side.
struct ECRInput {
    let value: JSONValue

    /// Parses a body: strict JSON (``JSONValue/parse(_:)``), an object at the top.
    init(_ bytes: [UInt8]) throws(ECRError) {
        if bytes.isEmpty {
            value = [:]
            return
        }
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(bytes) } catch {
            throw ECRError(.serialization, "the request body is not valid JSON: \(error)")
        }
        guard parsed.objectValue != nil else { throw ECRError(.serialization, "the request body is not a JSON object") }
        value = parsed
    }

    init(object: JSONValue) { value = object }

    static func invalid(_ key: String, _ constraint: String) -> ECRError {
        ECRError(.invalidParameter, "Invalid parameter at '\(key)' failed to satisfy constraint: '\(constraint)'")
    }

    /// The member `key`, unless it is missing or `null`.
    func member(_ key: String) -> JSONValue? {
        guard let member = value[key], !member.isNull else { return nil }
        return member
    }

    /// Whether the member is given (and not `null`).
    func has(_ key: String) -> Bool { member(key) != nil }

    func required(_ key: String) throws(ECRError) -> JSONValue {
        guard let member = member(key) else { throw Self.invalid(key, "Member must not be null") }
        return member
    }

    func string(_ key: String, required: Bool = false, length: ClosedRange<Int>? = nil) throws(ECRError) -> String? {
        guard let member = member(key) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard let text = member.stringValue else { throw Self.invalid(key, "Member must be a string") }
        if let length, !length.contains(text.count) {
            throw Self.invalid(key, "Member must have length between \(length.lowerBound) and \(length.upperBound)")
        }
        return text
    }

    /// A required string member.
    func text(_ key: String, length: ClosedRange<Int>? = nil) throws(ECRError) -> String {
        try string(key, required: true, length: length)!
    }

    func integer(_ key: String, range: ClosedRange<Int64>? = nil, required: Bool = false) throws(ECRError) -> Int64? {
        guard let member = member(key) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard case .int(let value) = member else { throw Self.invalid(key, "Member must be an integer") }
        let number = Int64(value)
        if let range, !range.contains(number) {
            throw Self.invalid(key, "Member must have value between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    func bool(_ key: String) throws(ECRError) -> Bool? {
        guard let member = member(key) else { return nil }
        guard let flag = member.boolValue else { throw Self.invalid(key, "Member must be a boolean") }
        return flag
    }

    func list(_ key: String, count: ClosedRange<Int>? = nil, required: Bool = false) throws(ECRError) -> [JSONValue]? {
        guard let member = member(key) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard let list = member.arrayValue else { throw Self.invalid(key, "Member must be a list") }
        if let count, !count.contains(list.count) {
            throw Self.invalid(key, "Member must have length between \(count.lowerBound) and \(count.upperBound)")
        }
        return list
    }

    /// A list of strings; `nil` when absent, `constraint` refuses one with anything else in it.
    func strings(
        _ key: String, count: ClosedRange<Int>? = nil, required: Bool = false,
        constraint: String = "Member must be a list of strings"
    ) throws(ECRError) -> [String]? {
        guard let list = try list(key, count: count, required: required) else { return nil }
        guard let strings = JSONValue.array(list).stringArray else { throw Self.invalid(key, constraint) }
        return strings
    }

    func structure(_ key: String, required: Bool = false) throws(ECRError) -> ECRInput? {
        guard let member = member(key) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard member.objectValue != nil else { throw Self.invalid(key, "Member must be a structure") }
        return ECRInput(object: member)
    }

    /// A list of structures; `constraint` refuses one with anything else in it.
    func structures(
        _ key: String, count: ClosedRange<Int>? = nil, required: Bool = false, constraint: String
    ) throws(ECRError) -> [ECRInput]? {
        guard let list = try list(key, count: count, required: required) else { return nil }
        var items: [ECRInput] = []
        for item in list {
            guard item.objectValue != nil else { throw Self.invalid(key, constraint) }
            items.append(ECRInput(object: item))
        }
        return items
    }

    /// The required `repositoryName`, in the model's grammar.
    func repositoryName(_ key: String = "repositoryName") throws(ECRError) -> RepositoryName {
        let text = try text(key)
        guard let name = RepositoryName(text) else {
            throw Self.invalid(
                key,
                "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and have length between 2 and 256"
            )
        }
        return name
    }

    func enumeration<T: RawRepresentable>(_ key: String, _: T.Type) throws(ECRError) -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text) else { throw Self.invalid(key, "Member must satisfy enum value set") }
        return value
    }

    /// `maxResults` and `nextToken` for a paginated listing, as (limit, the key to start after).
    func page(max: Int64) throws(ECRError) -> (limit: Int, after: String?) {
        let limit = Int(try integer("maxResults", range: 1...max) ?? max)
        guard let token = try string("nextToken") else { return (limit, nil) }
        guard let data = Data(base64Encoded: token), let after = String(data: data, encoding: .utf8),
            after.hasPrefix("after:")
        else {
            throw ECRError(
                .invalidParameter, "Invalid parameter at 'nextToken': the token is not one this registry issued")
        }
        return (limit, String(after.dropFirst(6)))
    }
}

/// The `nextToken` that resumes a listing after `key`.
func nextToken(after key: String) -> String { Data(("after:" + key).utf8).base64EncodedString() }
