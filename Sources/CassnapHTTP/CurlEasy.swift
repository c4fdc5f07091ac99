import CCurl
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

private let curlGlobalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

/// State shared with curl's C callbacks for one transfer.
private final class TransferContext {
    let body: HTTPRequest.Body
    let sink: HTTPRequest.Sink
    let throttle: (@Sendable (Int) -> Void)?
    let cancellation: TransferCancellation?
    var readPosition: Int64 = 0
    var received: [UInt8] = []
    var bytesWritten: Int64 = 0
    var overflow = false
    var sinkError: Int32 = 0
    var headers: [String: String] = [:]
    /// The status of the response being received, from its status line.
    var status = 0

    init(_ request: HTTPRequest, cancellation: TransferCancellation?) {
        body = request.body
        sink = request.sink
        throttle = request.throttle
        self.cancellation = cancellation
    }
}

private func context(_ p: UnsafeMutableRawPointer?) -> TransferContext {
    Unmanaged<TransferContext>.fromOpaque(p!).takeUnretainedValue()
}

/// libcurl calls this during a transfer (at least once a second, even while waiting for the
/// peer); a non-zero answer aborts the transfer with CURLE_ABORTED_BY_CALLBACK.
private let progressCallback: cassnap_curl_xferinfo_cb = { userdata, _, _, _, _ in
    context(userdata).cancellation?.isCancelled == true ? 1 : 0
}

private let readCallback: cassnap_curl_data_cb = { buffer, size, count, userdata in
    let ctx = context(userdata)
    let capacity = size * count
    let remaining = ctx.body.length - ctx.readPosition
    let want = Int(min(Int64(capacity), remaining))
    if want <= 0 { return 0 }
    ctx.throttle?(want)
    switch ctx.body {
    case .none: return 0
    case .bytes(let bytes):
        let start = Int(ctx.readPosition)
        bytes.withUnsafeBufferPointer { src in
            UnsafeMutableRawPointer(buffer!).copyMemory(from: src.baseAddress! + start, byteCount: want)
        }
        ctx.readPosition += Int64(want)
        return want
    case .file(let fd, let offset, _):
        while true {
            let n = pread(fd, buffer, want, off_t(offset + ctx.readPosition))
            if n < 0 && errno == EINTR { continue }
            // A file that shrank under us must fail the transfer, never send a short object.
            if n <= 0 { return Int(CURL_READFUNC_ABORT) }
            ctx.readPosition += Int64(n)
            return n
        }
    }
}

private let seekCallback: cassnap_curl_seek_cb = { userdata, offset, origin in
    // curl rewinds the body when it must resend (redirect, auth, a reused connection that died).
    guard origin == SEEK_SET else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
    context(userdata).readPosition = Int64(offset)
    return Int32(CURL_SEEKFUNC_OK)
}

private let writeCallback: cassnap_curl_data_cb = { data, size, count, userdata in
    let ctx = context(userdata)
    let n = size * count
    switch ctx.sink {
    case .memory(let limit):
        if ctx.received.count + n > limit {
            ctx.overflow = true
            return 0
        }
        ctx.received.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
    case .file(let fd):
        var done = 0
        while done < n {
            let w = write(fd, data! + done, n - done)
            if w < 0 {
                if errno == EINTR { continue }
                ctx.sinkError = errno
                return 0
            }
            done += w
        }
        ctx.bytesWritten += Int64(n)
    case .stream(let consume):
        // An error document is the caller's to read, not object bytes: it stays in memory.
        guard (200..<300).contains(ctx.status) else {
            let room = max(0, (64 << 10) - ctx.received.count)
            ctx.received.append(contentsOf: UnsafeRawBufferPointer(start: data, count: min(n, room)))
            return n
        }
        guard consume(UnsafeRawBufferPointer(start: data, count: n)) else {
            ctx.sinkError = EIO
            return 0
        }
        ctx.bytesWritten += Int64(n)
    }
    return n
}

/// A header name or value without surrounding blanks and the line's CR LF.
private func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
    func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a }
    guard let first = bytes.firstIndex(where: { !blank($0) }),
        let last = bytes.lastIndex(where: { !blank($0) })
    else { return bytes[bytes.startIndex..<bytes.startIndex] }
    return bytes[first...last]
}

private let headerCallback: cassnap_curl_data_cb = { data, size, count, userdata in
    let ctx = context(userdata)
    let n = size * count
    let line = UnsafeRawBufferPointer(start: data, count: n)
    if line.starts(with: "HTTP/".utf8) {
        ctx.headers = [:]  // a new response (after 100-continue or a redirect) starts over
        // "HTTP/1.1 206 Partial Content": the status is the second word.
        let words = line.split(separator: 0x20, maxSplits: 2)
        if words.count >= 2 { ctx.status = Int(String(decoding: trimmed(words[1]), as: UTF8.self)) ?? 0 }
    } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
        let name = String(decoding: trimmed(line[..<colon]), as: UTF8.self).lowercased()
        ctx.headers[name] = String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)
    }
    return n
}

/// One libcurl easy handle. Not thread-safe: a handle serves one transfer at a time, and keeps
/// its connection open between transfers for reuse.
package final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    private let configuration: HTTPClientConfiguration

    package init(configuration: HTTPClientConfiguration) {
        _ = curlGlobalInit
        guard let h = curl_easy_init() else { fatalError("curl_easy_init failed") }
        handle = h
        self.configuration = configuration
    }

    deinit { curl_easy_cleanup(handle) }

    /// Runs the transfer on the calling thread; a cancelled `cancellation` aborts it within
    /// about a second and throws `CancellationError`.
    package func perform(_ request: HTTPRequest, cancellation: TransferCancellation? = nil) throws
        -> HTTPResponse
    {
        curl_easy_reset(handle)
        let ctx = TransferContext(request, cancellation: cancellation)
        let unmanaged = Unmanaged.passRetained(ctx)
        defer { unmanaged.release() }
        let opaque = unmanaged.toOpaque()

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // Without this curl waits up to 1 s for "100 Continue" before every body.
        headerList = curl_slist_append(headerList, "Expect:")

        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))
        if let total = request.timeout ?? configuration.totalTimeout {
            try set(CURLOPT_TIMEOUT_MS, Int(total.milliseconds))
        }
        try set(CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit)
        try set(CURLOPT_LOW_SPEED_TIME, Int(configuration.lowSpeedTime.milliseconds / 1000))
        try set(CURLOPT_SSL_VERIFYPEER, configuration.verifyTLS ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, configuration.verifyTLS ? 2 : 0)
        if let ca = configuration.caBundlePath { try set(CURLOPT_CAINFO, ca) }
        try set(CURLOPT_USERAGENT, configuration.userAgent)
        try check(cassnap_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
        try check(cassnap_curl_setopt_data_cb(handle, CURLOPT_WRITEFUNCTION, writeCallback))
        try check(cassnap_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque))
        if case .memory = request.sink {
        } else {
            // Bodies bound for disk arrive in 256 KiB chunks instead of 16 KiB: a sixteenth of
            // the callbacks, writes and hash updates.
            try set(CURLOPT_BUFFERSIZE, 256 << 10)
        }
        if cancellation != nil {
            try set(CURLOPT_NOPROGRESS, 0)
            try check(cassnap_curl_setopt_xferinfo_cb(handle, CURLOPT_XFERINFOFUNCTION, progressCallback))
            try check(cassnap_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, opaque))
        }
        try check(cassnap_curl_setopt_data_cb(handle, CURLOPT_HEADERFUNCTION, headerCallback))
        try check(cassnap_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque))

        switch request.method {
        case "HEAD":
            try set(CURLOPT_NOBODY, 1)
        case "GET" where request.body.length == 0:
            try set(CURLOPT_HTTPGET, 1)
        default:
            if case .none = request.body {
                if request.method == "POST" || request.method == "PUT" {
                    // An empty body still needs Content-Length: 0 for S3 and GCS.
                    try set(CURLOPT_POSTFIELDSIZE_LARGE, off: 0)
                    try set(CURLOPT_POSTFIELDS, "")
                }
            } else {
                try set(CURLOPT_UPLOAD, 1)
                try set(CURLOPT_INFILESIZE_LARGE, off: request.body.length)
                try check(cassnap_curl_setopt_data_cb(handle, CURLOPT_READFUNCTION, readCallback))
                try check(cassnap_curl_setopt_pointer(handle, CURLOPT_READDATA, opaque))
                try check(cassnap_curl_setopt_seek_cb(handle, CURLOPT_SEEKFUNCTION, seekCallback))
                try check(cassnap_curl_setopt_pointer(handle, CURLOPT_SEEKDATA, opaque))
            }
            try set(CURLOPT_CUSTOMREQUEST, request.method)
        }

        let code = curl_easy_perform(handle)
        if code == CURLE_ABORTED_BY_CALLBACK, cancellation?.isCancelled == true { throw CancellationError() }
        if ctx.overflow, case .memory(let limit) = request.sink {
            throw HTTPError.responseTooLarge(url: request.url, limit: limit)
        }
        if ctx.sinkError != 0 {
            throw HTTPError.invalidRequest(
                "writing the response body failed: \(String(cString: strerror(ctx.sinkError)))")
        }
        if code != CURLE_OK {
            throw HTTPError.transport(
                url: request.url, code: Int32(code.rawValue),
                message: String(cString: curl_easy_strerror(code)),
                retryable: CurlEasy.isRetryable(code))
        }
        var status = 0
        _ = cassnap_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(
            status: status, headers: ctx.headers, body: ctx.received, bytesWritten: ctx.bytesWritten)
    }

    static func isRetryable(_ code: CURLcode) -> Bool {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
            CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_COULDNT_RESOLVE_HOST, CURLE_SSL_CONNECT_ERROR,
            CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_READ_ERROR, CURLE_ABORTED_BY_CALLBACK:
            true
        default:
            false
        }
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(cassnap_curl_setopt_long(handle, option, value))
    }
    private func set(_ option: CURLoption, off value: Int64) throws {
        try check(cassnap_curl_setopt_off(handle, option, curl_off_t(value)))
    }
    private func set(_ option: CURLoption, _ value: String) throws {
        // CURLOPT string options are copied by libcurl (since 7.17), so a temporary is fine.
        try check(value.withCString { cassnap_curl_setopt_string(handle, option, $0) })
    }
    private func check(_ code: CURLcode) throws {
        if code != CURLE_OK {
            throw HTTPError.invalidRequest("curl_easy_setopt: \(String(cString: curl_easy_strerror(code)))")
        }
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
