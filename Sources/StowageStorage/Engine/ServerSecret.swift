#if canImport(Glibc)
    import Glibc
#endif

/// The secret that signs auth tokens: 32 random bytes in `<data-dir>/secret` (mode 0600), made
/// on first start, so tokens survive restarts; in memory for `--ephemeral`.
public enum ServerSecret {
    public static func load(_ location: StorageLocation) throws -> [UInt8] {
        switch location {
        case .memory:
            return random()
        case .directory(let path):
            try POSIX.makeDirectories(path)
            let file = path + "/secret"
            if let bytes = try? POSIX.readFile(file), bytes.count == 32 { return bytes }
            let bytes = random()
            try POSIX.writeFileAtomically(file, bytes)
            chmod(file, 0o600)
            return bytes
        }
    }

    private static func random() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
