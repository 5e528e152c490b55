/// A value kept behind one shared reference, copied only when it is changed while shared.
///
/// The state's persistent trees keep their values inline, so a write copies every value of each
/// node on its path, up to 32 of them, retaining every reference each value holds. A field
/// wrapped this way costs that copy one retain, of one object, instead of one for each of its
/// own references (a manifest holds about ten, a repository's settings about as many). At a
/// million images those retains, each a cache miss, were most of what one command cost.
@propertyWrapper
public struct CopiedOnWrite<Value> {
    /// Changed only while uniquely referenced, so sharing it between threads is safe.
    final class Box: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    private var box: Box

    public init(wrappedValue: Value) { box = Box(wrappedValue) }

    /// The box this holds, named without keeping its value alive (while an identity lives, its
    /// box's memory is never reused, so a freed box is never mistaken for a new one). A write
    /// into a box no other value shares is made in place: what else was written into it since,
    /// its holder counts (``Repository/identity``).
    public var identity: ObjectIdentity { ObjectIdentity(box) }

    public var wrappedValue: Value {
        _read { yield box.value }
        set {
            if isKnownUniquelyReferenced(&box) { box.value = newValue } else { box = Box(newValue) }
        }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }
}

extension CopiedOnWrite: Sendable where Value: Sendable {}

extension CopiedOnWrite: Equatable where Value: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.box === rhs.box || lhs.box.value == rhs.box.value }
}

extension CopiedOnWrite: Hashable where Value: Hashable {
    public func hash(into hasher: inout Hasher) { hasher.combine(box.value) }
}

/// Encoded as the value itself: the wrapper leaves no trace in snapshots, logs or exports.
extension CopiedOnWrite: Codable where Value: Codable {
    public init(from decoder: any Decoder) throws { self.init(wrappedValue: try Value(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try box.value.encode(to: encoder) }
}

/// One object, named without keeping what it holds: an unowned reference keeps only the
/// object's memory (never its contents, released as usual), so no other object can take its
/// address while this lives, and two identities are equal exactly when they name one object.
public struct ObjectIdentity: Equatable, @unchecked Sendable {
    // Never read: it only keeps the address from being reused.
    private unowned let object: AnyObject
    private let id: ObjectIdentifier

    init(_ object: AnyObject) {
        self.object = object
        id = ObjectIdentifier(object)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.id == rhs.id }
}
