import FoundationEssentials
import StowageCore

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI's loose view of the admin API's JSON answers: `[String: Any]` trees read with `as?`,
/// built on the strict ``JSONValue`` parser and writer (the CLI links no full Foundation, so no
/// `JSONSerialization`).
enum JSON {
    /// JSON's `null` in an `Any` tree.
    struct Null: CustomStringConvertible, Sendable {
        var description: String { "null" }
    }

    /// The answer's object, or an empty one when the bytes are not a JSON object.
    static func object(_ data: Data) -> [String: Any] {
        (try? JSONValue.parse(data)).map(any) as? [String: Any] ?? [:]
    }

    static func any(_ value: JSONValue) -> Any {
        switch value {
        case .null: Null()
        case .bool(let flag): flag
        case .int(let number): number
        case .double(let number): number
        case .string(let text): text
        case .array(let items): items.map(any)
        case .object(let members): members.mapValues(any)
        }
    }

    /// The JSON value of an `Any` tree of the kinds ``any(_:)`` makes (and `JSONValue`s).
    static func value(of thing: Any) -> JSONValue {
        switch thing {
        case let value as JSONValue: value
        case is Null: .null
        case let flag as Bool: .bool(flag)
        case let number as Int: .int(number)
        case let number as UInt64: number <= UInt64(Int.max) ? .int(Int(number)) : .double(Double(number))
        case let number as Double: .double(number)
        case let text as String: .string(text)
        case let text as Substring: .string(String(text))
        case let items as [Any]: .array(items.map(value(of:)))
        case let members as [String: Any]: .object(members.mapValues(value(of:)))
        case let optional as Any? where optional == nil: .null
        default: .string(String(describing: thing))
        }
    }

    /// Indented JSON with sorted keys, for people.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members) where !members.isEmpty:
            let lines = members.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }.map {
                inner + JSONValue.string($0.key).text + " : " + pretty($0.value, indent: inner)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.text
        }
    }
}

/// Writes to standard output, unbuffered (so lines interleave correctly with a pipe reader).
func writeStandardOutput(_ text: String) { writeAll(1, text) }

func writeStandardError(_ text: String) { writeAll(2, text) }

private func writeAll(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
