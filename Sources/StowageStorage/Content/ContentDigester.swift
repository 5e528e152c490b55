import Crypto
public import StowageCore

/// A running SHA-256 or SHA-512 over content as it streams in.
public struct ContentDigester: Sendable {
    private enum State: Sendable {
        case sha256(SHA256)
        case sha512(SHA512)
    }

    private var state: State

    public init(_ algorithm: StowageCore.Digest.Algorithm = .sha256) {
        state = algorithm == .sha256 ? .sha256(SHA256()) : .sha512(SHA512())
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha256(var h):
            h.update(bufferPointer: bytes)
            state = .sha256(h)
        case .sha512(var h):
            h.update(bufferPointer: bytes)
            state = .sha512(h)
        }
    }

    /// The digest of everything seen so far (the running state is kept).
    public func finalize() -> StowageCore.Digest {
        switch state {
        case .sha256(let h): h.finalize().withUnsafeBytes { StowageCore.Digest(algorithm: .sha256, hash: $0)! }
        case .sha512(let h): h.finalize().withUnsafeBytes { StowageCore.Digest(algorithm: .sha512, hash: $0)! }
        }
    }

    /// The digest of `bytes`.
    public static func digest<C: Collection<UInt8>>(_ bytes: C, _ algorithm: StowageCore.Digest.Algorithm = .sha256)
        -> StowageCore.Digest
    {
        var digester = ContentDigester(algorithm)
        if bytes.withContiguousStorageIfAvailable({ digester.update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { digester.update($0) }
        }
        return digester.finalize()
    }
}
