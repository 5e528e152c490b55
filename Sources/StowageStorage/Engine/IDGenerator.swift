public import StowageCore
import Synchronization

/// Makes the ids the engine hands out (upload ids). Injected, so tests get predictable ones.
public protocol IDGenerator: Sendable {
    /// A new upload id, never handed out before by this generator.
    func uploadID() -> UploadID
}

/// Random (version 4) UUIDs: what a server hands out.
public struct RandomIDGenerator: IDGenerator {
    public init() {}

    public func uploadID() -> UploadID { UploadID(randomUUID())! }
}

/// `upload-1`, `upload-2`, ...: for tests that compare logs.
public final class SequentialIDGenerator: IDGenerator {
    private let next = Mutex(0)
    private let prefix: String

    public init(prefix: String = "upload-") { self.prefix = prefix }

    public func uploadID() -> UploadID {
        let n = next.withLock { n in
            n += 1
            return n
        }
        return UploadID(prefix + String(n))!
    }
}

/// A random (version 4) UUID in lowercase text, for upload ids and request ids.
///
/// Foundation's `UUID()` opens and reads `/dev/urandom` on every call on Linux (seen with strace:
/// one `openat` per request); the system generator uses `getrandom(2)` without a file.
public func randomUUID() -> String {
    var generator = SystemRandomNumberGenerator()
    // Two draws of 8 bytes (each a getrandom call), not sixteen of one.
    var bytes = withUnsafeBytes(of: (generator.next(), generator.next())) { Array($0) }
    bytes[6] = bytes[6] & 0x0F | 0x40
    bytes[8] = bytes[8] & 0x3F | 0x80
    let hex = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(36)
    for (n, byte) in bytes.enumerated() {
        if n == 4 || n == 6 || n == 8 || n == 10 { text.append(UInt8(ascii: "-")) }
        text.append(hex[Int(byte >> 4)])
        text.append(hex[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}
