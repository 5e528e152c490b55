import Foundation
import StowageStorage

/// `stowage-bench limit-push DIR FILE...`: what storing these blobs costs at the least on this
/// machine — sha256 of each file's bytes in one core, then a plain write of them to a new file in
/// DIR and an fsync — as CPU seconds and wall seconds, printed `cpu wall`. The limit a push row's
/// Stowage figure is read against.
enum PushLimit {
    static func run(_ arguments: [String]) throws {
        guard arguments.count >= 3 else {
            FileHandle.standardError.write(Data("usage: stowage-bench limit-push DIR FILE...\n".utf8))
            exit(64)
        }
        let directory = arguments[1]
        var cpu = 0.0
        var wall = 0.0
        for (n, file) in arguments.dropFirst(2).enumerated() {
            guard let data = FileManager.default.contents(atPath: file) else { throw CocoaError(.fileReadNoSuchFile) }
            let bytes = [UInt8](data)
            let target = "\(directory)/limit-\(getpid())-\(n)"
            let (startCPU, startWall) = (EngineBenchmark.cpu(), ContinuousClock.now)
            _ = ContentDigester.digest(bytes)
            let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw POSIXError(.EIO) }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                guard written > 0 else { throw POSIXError(.EIO) }
                offset += written
            }
            fsync(fd)
            close(fd)
            cpu += EngineBenchmark.cpu() - startCPU
            let elapsed = ContinuousClock.now - startWall
            wall += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            unlink(target)
        }
        print(String(format: "%.6f %.6f", cpu, wall))
    }
}
