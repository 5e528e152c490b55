import Glibc
import NIOCore
import NIOHTTP1
import Synchronization

/// Sends blob bytes from the file straight to the socket (`sendfile(2)`), under Hummingbird's
/// response bodies, which carry only `ByteBuffer`s.
///
/// Copying a blob through a buffer costs a read into user memory and a copy into the socket per
/// byte; a `FileRegion` costs neither (measured in `make bench`: pulls of large blobs). A blob
/// response registers its file region here and writes a 24-byte *marker* as its body: this handler,
/// which sits below Hummingbird's HTTP-types codec where bodies may be `IOData`, swaps the marker
/// for the region. A marker is a per-process random secret and a number, so no other response body
/// can pass for one; a region not yet sent when the connection ends is closed then.
///
/// The handler serves one connection. Responses find it through ``current``, a task-local set for
/// the connection's task by ``LargeReadsChannel``; where it is not set (the in-process tests,
/// which drive the router without a socket) a response copies its bytes as before.
final class SendfileHandler: ChannelOutboundHandler, RemovableChannelHandler, Sendable {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The handler of the connection whose task this is, if it has one.
    @TaskLocal static var current: SendfileHandler?

    /// The secret every marker starts with: random, made once per process, never sent.
    private static let secret: (UInt64, UInt64) = {
        var random = SystemRandomNumberGenerator()
        return (random.next(), random.next())
    }()
    private static let markerSize = 24

    private struct Pending {
        var next: UInt64 = 0
        var regions: [UInt64: FileRegion] = [:]
        /// Set once the connection's pipeline is gone: no region registered after that could be sent.
        var closed = false
    }
    private let pending = Mutex(Pending())

    /// Registers `range` of the open file `descriptor` (which stays the caller's: it is duplicated)
    /// and returns the marker to write as the response body in its place.
    func marker(descriptor: Int32, range: Range<Int64>) throws -> ByteBuffer {
        let copy = dup(descriptor)
        guard copy >= 0 else { throw IOError(errnoCode: errno, reason: "dup") }
        let region = FileRegion(
            fileHandle: NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: copy),
            readerIndex: Int(range.lowerBound), endIndex: Int(range.upperBound))
        let id = pending.withLock { pending -> UInt64? in
            guard !pending.closed else { return nil }
            pending.next += 1
            pending.regions[pending.next] = region
            return pending.next
        }
        guard let id else {
            try? region.fileHandle.close()
            throw ChannelError.ioOnClosedChannel
        }
        var buffer = ByteBuffer()
        buffer.writeInteger(Self.secret.0)
        buffer.writeInteger(Self.secret.1)
        buffer.writeInteger(id)
        return buffer
    }

    /// Closes the region behind a marker that will not be written after all.
    func cancel(_ marker: ByteBuffer) {
        guard let id = Self.id(of: marker), let region = take(id) else { return }
        try? region.fileHandle.close()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(.byteBuffer(let buffer)) = unwrapOutboundIn(data), let id = Self.id(of: buffer),
            let region = take(id)
        else {
            context.write(data, promise: promise)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { result in
            try? region.fileHandle.close()
            promise?.completeWith(result)
        }
        context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: written)
    }

    /// The connection, once the handler is in its pipeline (for ``drop()``).
    private let channel = Mutex<(any Channel)?>(nil)

    func handlerAdded(context: ChannelHandlerContext) {
        let connection = context.channel
        channel.withLock { $0 = connection }
    }

    /// Closes the connection without an answer (an injected fault's `drop`).
    func drop() {
        let connection = channel.withLock { $0 }
        connection?.close(mode: .all, promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        channel.withLock { $0 = nil }
        let left = pending.withLock { pending in
            defer {
                pending.regions.removeAll()
                pending.closed = true
            }
            return Array(pending.regions.values)
        }
        for region in left { try? region.fileHandle.close() }
    }

    private func take(_ id: UInt64) -> FileRegion? {
        pending.withLock { $0.regions.removeValue(forKey: id) }
    }

    private static func id(of buffer: ByteBuffer) -> UInt64? {
        guard buffer.readableBytes == markerSize,
            buffer.getInteger(at: buffer.readerIndex, as: UInt64.self) == secret.0,
            buffer.getInteger(at: buffer.readerIndex + 8, as: UInt64.self) == secret.1
        else { return nil }
        return buffer.getInteger(at: buffer.readerIndex + 16, as: UInt64.self)
    }
}
