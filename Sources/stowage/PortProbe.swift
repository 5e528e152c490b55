#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether a TCP port on a host is taken: a bind as the server's would be (with `SO_REUSEADDR`)
/// fails with `EADDRINUSE`. Anything else (a host that does not resolve, say) is left to the server.
func portInUse(host: String, port: Int) -> Bool {
    guard port != 0 else { return false }
    var hints = addrinfo()
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE
    hints.ai_family = AF_UNSPEC
    #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    #else
        hints.ai_socktype = SOCK_STREAM
    #endif
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return false }
    defer { freeaddrinfo(list) }
    var candidate: UnsafeMutablePointer<addrinfo>? = first
    while let address = candidate {
        defer { candidate = address.pointee.ai_next }
        let socket = systemSocket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard socket >= 0 else { continue }
        defer { close(socket) }
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if bind(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) != 0 && errno == EADDRINUSE {
            return true
        }
    }
    return false
}

private func systemSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 {
    socket(domain, type, proto)
}
