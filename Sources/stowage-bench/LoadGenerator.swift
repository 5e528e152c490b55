import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `stowage-bench load`: keep-alive HTTP/1.1 requests on `connections` connections for a bounded
/// time, one thread each, blocking sockets; prints the number of 2xx answers and of others.
///
/// It exists for what `wrk` cannot do: HEAD (wrk waits for a body a HEAD answer never has) and
/// PUT with a body and a fresh path per request (`{n}` in the path is replaced by a counter).
struct LoadGenerator {
    let port: UInt16
    let method: String
    let path: String
    let headers: [String]
    let body: [UInt8]
    let connections: Int
    let seconds: Double

    init(arguments: [String]) throws {
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
        guard let port = value("--port").flatMap(UInt16.init), let path = value("--path") else {
            throw Usage(
                "usage: stowage-bench load --port P --path /v2/... [--method M] [--connections C] [--seconds S] [--header 'K: V']... [--body-file F]"
            )
        }
        self.port = port
        self.path = path
        method = value("--method") ?? "GET"
        connections = value("--connections").flatMap(Int.init) ?? 8
        seconds = value("--seconds").flatMap(Double.init) ?? 5
        headers = arguments.indices.filter { arguments[$0] == "--header" && $0 + 1 < arguments.count }.map {
            arguments[$0 + 1]
        }
        body = try value("--body-file").map { Array(try Data(contentsOf: URL(fileURLWithPath: $0))) } ?? []
    }

    struct Usage: Error, CustomStringConvertible {
        let description: String
        init(_ text: String) { description = text }
    }

    func run() {
        let deadline = Date().addingTimeInterval(seconds)
        let results = Results()
        let group = DispatchGroup()
        for connection in 0..<connections {
            group.enter()
            let thread = Thread {
                let (ok, failed) = self.connectionLoop(connection, until: deadline)
                results.add(ok, failed)
                group.leave()
            }
            thread.start()
        }
        group.wait()
        print("ok \(results.ok) failed \(results.failed)")
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var ok = 0
        private(set) var failed = 0
        func add(_ ok: Int, _ failed: Int) {
            lock.lock()
            self.ok += ok
            self.failed += failed
            lock.unlock()
        }
    }

    func connect() -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func connectionLoop(_ connection: Int, until deadline: Date) -> (Int, Int) {
        guard let fd = connect() else { return (0, 1) }
        defer { close(fd) }
        var ok = 0
        var failed = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var n = 0
        while Date() < deadline {
            let target = path.replacingOccurrences(of: "{n}", with: "\(connection)-\(n)")
            n += 1
            var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
            for header in headers { head += header + "\r\n" }
            if !body.isEmpty || method == "PUT" || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            guard sendAll(fd, Array(head.utf8) + body) else { return (ok, failed + 1) }
            guard let status = readResponse(fd, &buffer) else { return (ok, failed + 1) }
            if (200..<300).contains(status) { ok += 1 } else { failed += 1 }
        }
        return (ok, failed)
    }

    func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + done, bytes.count - done, 0) }
            guard sent > 0 else { return false }
            done += sent
        }
        return true
    }

    /// Reads one response (head, then a `Content-Length` body unless the request was HEAD); the
    /// status, or nil if the connection failed. No pipelining, so nothing follows it.
    func readResponse(_ fd: Int32, _ buffer: inout [UInt8]) -> Int? {
        var filled = 0
        var headEnd: Int?
        while headEnd == nil {
            if filled == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, $0.count - filled, 0) }
            guard got > 0 else { return nil }
            let from = max(0, filled - 3)
            filled += got
            if filled >= 4 {
                for i in from...(filled - 4)
                where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                    headEnd = i + 4
                    break
                }
            }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { return nil }
        var length = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                length = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        if method == "HEAD" { length = 0 }
        var remaining = length - (filled - headEnd!)
        while remaining > 0 {
            // MSG_TRUNC on TCP discards the bytes in the kernel, uncopied: the reader costs next to
            // nothing, so a pull row measures the server, not its client.
            let got = buffer.withUnsafeMutableBytes {
                recv(fd, $0.baseAddress!, min(1 << 22, remaining), Int32(MSG_TRUNC))
            }
            guard got > 0 else { return nil }
            remaining -= got
        }
        return status
    }
}
