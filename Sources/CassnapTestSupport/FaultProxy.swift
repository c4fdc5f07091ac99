import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that forwards to a real server and injects network faults into
/// chosen connections: HTTP errors, resets, flipped body bytes, truncated responses. Tests use
/// it to prove that stores detect corruption and retry instead of recording a bad object.
/// Faults are queued and each is used by one new connection; later connections pass through.
package final class FaultProxy: Sendable {
    package enum Fault: Sendable, Equatable {
        /// Answer the request with this status (and `Connection: close`) without forwarding.
        case respond(status: Int)
        /// Accept, then reset the connection before any answer.
        case resetImmediately
        /// Forward this many request body bytes, then reset both sides.
        case resetAfterRequestBodyBytes(Int)
        /// Flip one bit of the request body at this offset (after the first header block).
        case flipRequestBodyByte(at: Int)
        /// Flip one bit of the response body at this offset.
        case flipResponseBodyByte(at: Int)
        /// Forward the response headers and this many body bytes, then close.
        case truncateResponseBody(after: Int)
    }

    package let port: UInt16
    private let upstreamPort: UInt16
    private let listener: Int32
    private let state = Mutex<(faults: [(Fault, String?)], connections: Int, injected: Int, stopped: Bool)>(
        ([], 0, 0, false))

    /// Starts forwarding from a free loopback port to `upstream` (an `http://127.0.0.1:PORT` URL).
    package init(upstream: String) throws {
        guard let url = URL(string: upstream), let p = url.port,
            url.host == "127.0.0.1" || url.host == "localhost"
        else { throw ProxyError("upstream must be http://127.0.0.1:PORT, got \(upstream)") }
        upstreamPort = UInt16(p)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = FaultProxy.loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ProxyError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    package var url: String { "http://127.0.0.1:\(port)" }

    package func inject(_ faults: Fault...) {
        state.withLock { $0.faults.append(contentsOf: faults.map { ($0, nil) }) }
    }

    /// Queues faults for the next connections whose request head contains `matching`
    /// (e.g. `"alt=media"`, `"GET /"`); other connections pass untouched.
    package func inject(_ faults: Fault..., matching: String) {
        state.withLock { $0.faults.append(contentsOf: faults.map { ($0, matching) }) }
    }

    /// Connections accepted so far, and faults actually applied.
    package var connectionCount: Int { state.withLock { $0.connections } }
    package var injectedCount: Int { state.withLock { $0.injected } }
    package var pendingFaults: Int { state.withLock { $0.faults.count } }

    package func stop() {
        let wasStopped = state.withLock { s in
            defer { s.stopped = true }
            return s.stopped
        }
        if !wasStopped {
            // Only shut down: the accept thread closes the descriptor when it leaves, so its
            // number cannot be reused by another server while that thread may still accept.
            shutdown(listener, Int32(SHUT_RDWR))
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(listener)  // shut down by stop()
                return
            }
            Thread { [self] in
                let head = peekRequestHead(client)
                let fault: Fault? = state.withLock { s in
                    s.connections += 1
                    guard let i = s.faults.firstIndex(where: { $0.1 == nil || head.contains($0.1!) }) else {
                        return nil
                    }
                    s.injected += 1
                    return s.faults.remove(at: i).0
                }
                handle(client: client, fault: fault)
            }.start()
        }
    }

    private func handle(client: Int32, fault: Fault?) {
        switch fault {
        case .resetImmediately:
            reset(client)
            return
        case .respond(let status):
            _ = readRequestHead(client)
            let body =
                "<Error><Code>InjectedFault</Code><Message>fault proxy answered \(status)</Message></Error>"
            let response =
                "HTTP/1.1 \(status) Injected\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = response.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            shutdown(client, Int32(SHUT_WR))
            drain(client)
            close(client)
            return
        default: break
        }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = FaultProxy.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(upstream)
            reset(client)
            return
        }
        let halves = PairCloser(client, upstream)
        Thread { [self] in
            pump(from: client, to: upstream, fault: fault, isRequest: true)
            halves.finishOne()
        }.start()
        pump(from: upstream, to: client, fault: fault, isRequest: false)
        halves.finishOne()
    }

    /// The two pumps of one connection: the first to end shuts both sockets down so the other
    /// wakes up; the second closes them.
    private final class PairCloser: Sendable {
        let a: Int32
        let b: Int32
        let finished = Mutex(0)
        init(_ a: Int32, _ b: Int32) {
            self.a = a
            self.b = b
        }
        func finishOne() {
            let count = finished.withLock { c in
                c += 1
                return c
            }
            if count == 2 {
                close(a)
                close(b)
            } else {
                shutdown(a, Int32(SHUT_RDWR))
                shutdown(b, Int32(SHUT_RDWR))
            }
        }
    }

    /// Copies one direction, applying the fault that belongs to it.
    private func pump(from source: Int32, to sink: Int32, fault: Fault?, isRequest: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var headerEnd: Int? = nil  // stream offset where the first body starts
        var seen = 0
        var window: [UInt8] = []
        while true {
            let n = recv(source, &buffer, buffer.count, 0)
            if n <= 0 { return }
            var chunk = Array(buffer[0..<n])
            if isRequest && seen == 0, let lineEnd = chunk.firstRange(of: [13, 10]) {
                // One request per connection: faults are per connection, and a kept-alive
                // connection would carry later requests past the fault queue.
                chunk.insert(contentsOf: Array("Connection: close\r\n".utf8), at: lineEnd.upperBound)
            }
            if headerEnd == nil {
                window.append(contentsOf: chunk)
                if let r = window.firstRange(of: [13, 10, 13, 10]) {
                    headerEnd = r.upperBound
                }
                if window.count > 1 << 20 { window.removeAll() }
            }
            let chunkStart = seen
            seen += chunk.count
            if let headerEnd {
                let bodyStart = max(0, headerEnd - chunkStart)  // index in chunk where body bytes begin
                let bodyOffset = chunkStart + bodyStart - headerEnd
                switch (fault, isRequest) {
                case (.flipRequestBodyByte(let at), true), (.flipResponseBodyByte(let at), false):
                    let i = bodyStart + (at - bodyOffset)
                    if at >= bodyOffset, i < chunk.count { chunk[i] ^= 0x01 }
                case (.resetAfterRequestBodyBytes(let limit), true):
                    let allowed = bodyStart + max(0, limit - bodyOffset)
                    if allowed < chunk.count {
                        sendAll(sink, Array(chunk[0..<allowed]))
                        reset(sink)
                        reset(source)
                        return
                    }
                case (.truncateResponseBody(let limit), false):
                    let allowed = bodyStart + max(0, limit - bodyOffset)
                    if allowed < chunk.count {
                        sendAll(sink, Array(chunk[0..<allowed]))
                        shutdown(sink, Int32(SHUT_RDWR))
                        shutdown(source, Int32(SHUT_RDWR))
                        return
                    }
                default: break
                }
            }
            if !sendAll(sink, chunk) { return }
        }
    }

    @discardableResult
    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// The request's first bytes, left in the socket for the pump to forward.
    private func peekRequestHead(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_PEEK))
        tv = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    private func readRequestHead(_ fd: Int32) -> [UInt8] {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while head.count < 1 << 16, recv(fd, &byte, 1, 0) == 1 {
            head.append(byte)
            if head.suffix(4) == [13, 10, 13, 10] { break }
        }
        return head
    }

    /// Reads whatever the client still sends (bounded by a 2 s receive timeout) so closing does
    /// not turn into a reset before the client has read our answer.
    private func drain(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while total < 256 << 20 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            total += n
        }
    }

    private func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    package struct ProxyError: Error, CustomStringConvertible {
        package let description: String
        init(_ d: String) { description = d }
    }
}
