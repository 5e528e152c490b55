import Foundation
import StowageCore

/// A request body of the ECR JSON API, with typed access that refuses what the service model
/// forbids (`InvalidParameterException`), as ECR does where boto3 does not check client-side.
struct ECRInput {
    let object: [String: Any]

    init(_ bytes: [UInt8]) throws(ECRError) {
        if bytes.isEmpty {
            object = [:]
            return
        }
        guard let object = JSON.object(bytes) else {
            throw ECRError(.serialization, "the request body is not a JSON object")
        }
        self.object = object
    }

    static func invalid(_ key: String, _ constraint: String) -> ECRError {
        ECRError(.invalidParameter, "Invalid parameter at '\(key)' failed to satisfy constraint: '\(constraint)'")
    }

    func string(_ key: String, required: Bool = false, length: ClosedRange<Int>? = nil) throws(ECRError) -> String? {
        guard let value = object[key], !(value is NSNull) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard let text = value as? String else { throw Self.invalid(key, "Member must be a string") }
        if let length, !length.contains(text.count) {
            throw Self.invalid(key, "Member must have length between \(length.lowerBound) and \(length.upperBound)")
        }
        return text
    }

    func integer(_ key: String, range: ClosedRange<Int64>? = nil, required: Bool = false) throws(ECRError) -> Int64? {
        guard let value = object[key], !(value is NSNull) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard let number = value as? Int64 ?? (value as? Int).map(Int64.init) else {
            throw Self.invalid(key, "Member must be an integer")
        }
        if let range, !range.contains(number) {
            throw Self.invalid(key, "Member must have value between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    func bool(_ key: String) throws(ECRError) -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let flag = value as? Bool else { throw Self.invalid(key, "Member must be a boolean") }
        return flag
    }

    func list(_ key: String, count: ClosedRange<Int>? = nil, required: Bool = false) throws(ECRError) -> [Any]? {
        guard let value = object[key], !(value is NSNull) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard let list = value as? [Any] else { throw Self.invalid(key, "Member must be a list") }
        if let count, !count.contains(list.count) {
            throw Self.invalid(key, "Member must have length between \(count.lowerBound) and \(count.upperBound)")
        }
        return list
    }

    func structure(_ key: String, required: Bool = false) throws(ECRError) -> ECRInput? {
        guard let value = object[key], !(value is NSNull) else {
            if required { throw Self.invalid(key, "Member must not be null") }
            return nil
        }
        guard let object = value as? [String: Any] else { throw Self.invalid(key, "Member must be a structure") }
        return ECRInput(object: object)
    }

    init(object: [String: Any]) { self.object = object }

    /// The required `repositoryName`, in the model's grammar.
    func repositoryName(_ key: String = "repositoryName") throws(ECRError) -> RepositoryName {
        let text = try string(key, required: true)!
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

/// Seconds since the epoch, as the AWS JSON protocol encodes timestamps.
func epochSeconds(_ time: Timestamp) -> Double { Double(time.millisecondsSinceEpoch) / 1000 }
