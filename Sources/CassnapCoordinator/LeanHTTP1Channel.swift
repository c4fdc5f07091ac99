import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 child channel with a small receive buffer per connection.
///
/// By default NIO pools `maxMessagesPerRead` (4) receive buffers per connection, each grown by
/// the adaptive allocator to 64 KiB on the first large request body and never shrunk: about
/// 256 KiB of heap for every open connection, busy or idle. Agents keep their connections open
/// (keep-alive, long polls), so 1000 simulated nodes with a few connections each held over 1 GB.
/// Here a connection keeps one buffer of at most 16 KiB: one read per event-loop turn (the loop
/// comes back while bytes remain), and a 1000-report batch arrives in about 25 reads.
///
/// A connection that completes no request part for `idleTimeout` is closed: an idle
/// keep-alive connection, and one trickling a request head a byte at a time (the head is one
/// part, so its bytes do not count as activity). A request being answered — a long-poll
/// waiting for commands — is never idle, so long-polls fit whatever their wait.
struct LeanHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let http1: HTTP1Channel

    init(responder: @escaping HTTPChannelHandler.Responder, idleTimeout: Duration) {
        http1 = HTTP1Channel(
            responder: responder, configuration: .init(idleTimeout: TimeAmount(idleTimeout)))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.setOption(ChannelOptions.maxMessagesPerRead, value: 1).flatMap {
            channel.setOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16 * 1024))
        }.flatMap {
            http1.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}
