import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP/1.1 responder on 127.0.0.1 for stand-ins of servers we cannot run here: cloud
/// metadata services (EC2 IMDSv2, ECS, GCE), OAuth token endpoints. One request per
/// connection; the handler sees each request and chooses the answer. Not for anything we can
/// run for real (S3 and GCS have real servers in the test command).
package final class StubHTTPServer: Sendable {
    package struct Request: Sendable {
        package var method: String
        package var path: String
        /// Lower-cased names.
        package var headers: [String: String]
        package var body: [UInt8]
        package var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    package struct Response: Sendable {
        package var status: Int
        package var headers: [(String, String)]
        package var body: [UInt8]

        package init(status: Int = 200, headers: [(String, String)] = [], body: String = "") {
            self.status = status
            self.headers = headers
            self.body = Array(body.utf8)
        }

        package static func bytes(_ body: [UInt8], status: Int = 200, headers: [(String, String)] = [])
            -> Response
        {
            var r = Response(status: status, headers: headers)
            r.body = body
            return r
        }

        package static func json(_ text: String, status: Int = 200) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")], body: text)
        }
    }

    package typealias Handler = @Sendable (Request) -> Response

    package let port: UInt16
    private let listener: Int32
    private let handler: Handler
    private let log = Mutex<[Request]>([])
    private let stopped = Mutex(false)

    package init(handler: @escaping Handler) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 32) == 0 else {
            close(fd)
            throw FaultProxy.ProxyError("stub server cannot listen: \(String(cString: strerror(errno)))")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd
        Thread { [self] in serve() }.start()
    }

    deinit { stop() }

    package var url: String { "http://127.0.0.1:\(port)" }
    package var hostAndPort: String { "127.0.0.1:\(port)" }

    /// Every request answered so far, in order.
    package var requests: [Request] { log.withLock { $0 } }

    package func stop() {
        let was = stopped.withLock { s in
            defer { s = true }
            return s
        }
        if !was {
            // Only shut down: the accept thread closes the descriptor when it leaves, so its
            // number cannot be reused by another server while that thread may still accept.
            shutdown(listener, Int32(SHUT_RDWR))
        }
    }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(listener)
                return
            }
            Thread { [self] in answer(client) }.start()
        }
    }

    private func answer(_ fd: Int32) {
        defer { close(fd) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        var headerEnd: Int? = nil
        while headerEnd == nil, data.count < 1 << 20 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            data.append(contentsOf: buffer[0..<n])
            headerEnd = data.firstRange(of: [13, 10, 13, 10])?.upperBound
        }
        guard let headerEnd else { return }
        let head = String(decoding: data[0..<headerEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let start = lines.removeFirst().split(separator: " ")
        guard start.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Array(data[headerEnd...])
        while body.count < length {
            let n = recv(fd, &buffer, min(buffer.count, length - body.count), 0)
            if n <= 0 { break }
            body.append(contentsOf: buffer[0..<n])
        }
        let request = Request(method: String(start[0]), path: String(start[1]), headers: headers, body: body)
        log.withLock { $0.append(request) }
        let response = handler(request)
        var out =
            "HTTP/1.1 \(response.status) Stub\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (name, value) in response.headers { out += "\(name): \(value)\r\n" }
        out += "\r\n"
        let bytes = Array(out.utf8) + response.body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}
