import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 channel with socket reads of up to 1 MiB instead of NIO's 64 KiB, and
/// blob bodies sent with `sendfile(2)` (``SendfileHandler``).
///
/// A blob body then arrives in a sixteenth of the reads, hashes and writes: measured on a 1 GiB
/// push, less server CPU per GiB and higher throughput (see `make bench`). Small requests are
/// unaffected: the adaptive allocator starts at 64 KiB and only grows while reads fill it.
struct LargeReadsChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.setOption(
            ChannelOptions.recvAllocator,
            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 64 << 10, maximum: 1 << 20)
        )
        .flatMap { http1.setup(channel: channel, logger: logger) }
        .flatMapThrowing { value in
            // Below the HTTP-types codec, where a response body may be a file region.
            let operations = channel.pipeline.syncOperations
            try operations.addHandler(
                SendfileHandler(), position: .before(try operations.handler(type: HTTP1ToHTTPServerCodec.self)))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        let sendfile = try? await value.channel.pipeline.handler(type: SendfileHandler.self).get()
        await SendfileHandler.$current.withValue(sendfile) {
            await http1.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with large socket reads and our extra channel handlers.
    static func stowage(_ configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        .init { responder in LargeReadsChannel(http1: HTTP1Channel(responder: responder, configuration: configuration))
        }
    }
}
