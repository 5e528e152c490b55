/// A document of the ECR API — a replication or scanning configuration, a creation template, a
/// lifecycle policy — held in the state as a typed value, read once where it arrives.
///
/// Snapshots, exports and log records store a document as its JSON text (``json``'s ``JSONValue/text``),
/// exactly as format v1 stored it before documents were typed, so every file written since then
/// still loads and a state encodes to the same bytes it always did.
public protocol RegistryDocument: Hashable, Sendable, Codable {
    /// Reads the document from its JSON form (as stored; the edges check requests more strictly).
    init(json: JSONValue) throws(DocumentError)
    /// The document's JSON form, as the ECR API returns it.
    var json: JSONValue { get }
}

/// Why a stored document could not be read back.
public struct DocumentError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension RegistryDocument {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try Self(json: try JSONValue.parse(text))
        } catch {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a stored \(Self.self) does not read back: \(error)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(json.text)
    }
}

/// Reading the members of a stored document.
extension JSONValue {
    func member(_ key: String) throws(DocumentError) -> JSONValue {
        guard let value = self[key], !value.isNull else { throw DocumentError("'\(key)' is missing") }
        return value
    }

    func string(_ key: String) throws(DocumentError) -> String {
        guard let text = try member(key).stringValue else { throw DocumentError("'\(key)' is not a string") }
        return text
    }

    func optionalString(_ key: String) throws(DocumentError) -> String? {
        guard let value = self[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw DocumentError("'\(key)' is not a string") }
        return text
    }

    func list(_ key: String) throws(DocumentError) -> [JSONValue] {
        guard let elements = try member(key).arrayValue else { throw DocumentError("'\(key)' is not a list") }
        return elements
    }

    func optionalList(_ key: String) throws(DocumentError) -> [JSONValue]? {
        guard let value = self[key], !value.isNull else { return nil }
        guard let elements = value.arrayValue else { throw DocumentError("'\(key)' is not a list") }
        return elements
    }

    /// A time stored as seconds since the epoch (AWS JSON's timestamp form).
    func time(_ key: String) throws(DocumentError) -> Timestamp {
        guard let seconds = try member(key).doubleValue else { throw DocumentError("'\(key)' is not a time") }
        return Timestamp(epochSeconds: seconds)
    }

    /// The `filter` of each `{filter, filterType}` in a list.
    func filters(_ key: String) throws(DocumentError) -> [String]? {
        guard let list = try optionalList(key) else { return nil }
        var filters: [String] = []
        for entry in list { filters.append(try entry.string("filter")) }
        return filters
    }

    /// `[{filter, filterType}]` with one filter type.
    static func filters(_ filters: [String], type: String) -> JSONValue {
        .array(filters.map { ["filter": .string($0), "filterType": .string(type)] })
    }
}

extension Timestamp {
    /// A time given as seconds since the epoch, to the millisecond.
    public init(epochSeconds seconds: Double) {
        let milliseconds = (seconds * 1000).rounded()
        self.init(
            millisecondsSinceEpoch: milliseconds.isFinite && abs(milliseconds) < 9e18 ? Int64(milliseconds) : 0)
    }

    /// Seconds since the epoch, as AWS JSON writes timestamps.
    public var epochSeconds: Double { Double(millisecondsSinceEpoch) / 1000 }
}

/// A JSON object built from optional members: a `nil` member is left out.
func object(_ members: [(String, JSONValue?)]) -> JSONValue {
    var result: [String: JSONValue] = [:]
    for (key, value) in members { if let value { result[key] = value } }
    return .object(result)
}
