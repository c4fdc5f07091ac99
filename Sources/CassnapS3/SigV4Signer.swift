import CassnapCrypto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for header-signed requests.
///
/// Paths and query parameters are given *decoded*; the signer encodes them once (RFC 3986
/// unreserved characters stay, everything else becomes `%XX`), which is what S3 expects and what
/// the URL must carry, so `SignedRequest.encodedPath`/`encodedQuery` are used to build the URL.
package struct SigV4Signer: Sendable {
    /// The SHA-256 of an empty body, the payload hash of every GET, HEAD and DELETE.
    package static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// Signs the headers but not the body; integrity then comes from Content-MD5 (and TLS).
    package static let unsignedPayload = "UNSIGNED-PAYLOAD"

    package var region: String
    package var service: String
    /// Send and sign `x-amz-content-sha256` (S3 requires it; other services do not use it).
    package var sendsContentSHA256: Bool
    /// Remove `.`/`..` segments and repeated slashes before signing. Every AWS service except S3
    /// normalizes; S3 signs the key as it is.
    package var normalizesPath: Bool
    /// The day's signing key: four HMACs that are the same for every request of a day.
    private let keyCache = SigningKeyCache()

    package init(
        region: String, service: String = "s3", sendsContentSHA256: Bool? = nil, normalizesPath: Bool? = nil
    ) {
        self.region = region
        self.service = service
        self.sendsContentSHA256 = sendsContentSHA256 ?? (service == "s3")
        self.normalizesPath = normalizesPath ?? (service != "s3")
    }

    package struct Request: Sendable {
        package var method: String
        /// Decoded path starting with `/`, e.g. `/bucket/some key`.
        package var path: String
        /// Decoded query parameters; a parameter without a value (`?uploads`) has value "".
        package var query: [(name: String, value: String)]
        /// Headers to sign and send (must include `host`).
        package var headers: [(name: String, value: String)]
        /// Lower-case hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
        package var payloadHash: String

        package init(
            method: String, path: String, query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)], payloadHash: String = SigV4Signer.emptyPayloadHash
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// Everything the signature is made of; tests compare each step with AWS's test suite.
    package struct SignedRequest: Sendable {
        package var canonicalRequest: String
        package var stringToSign: String
        package var authorization: String
        package var encodedPath: String
        package var encodedQuery: String
        /// The request's headers plus `x-amz-date`, the session token, the content hash and
        /// `Authorization`, ready to send.
        package var headers: [(name: String, value: String)]
    }

    package func sign(_ request: Request, credentials: AWSCredentials, date: Date = Date()) -> SignedRequest {
        let (amzDate, day) = Self.timestamps(date)
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(request.headers.count + 4)
        var hasToken = false
        var hasContentSHA256 = false
        for header in request.headers {
            let name = header.name.lowercased()
            if name == "x-amz-date" || name == "authorization" { continue }
            hasToken = hasToken || name == "x-amz-security-token"
            hasContentSHA256 = hasContentSHA256 || name == "x-amz-content-sha256"
            headers.append(header)
        }
        headers.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken, !hasToken {
            headers.append(("X-Amz-Security-Token", token))
        }
        if sendsContentSHA256 && !hasContentSHA256 {
            headers.append(("X-Amz-Content-SHA256", request.payloadHash))
        }

        let encodedPath = Self.canonicalPath(request.path, normalize: normalizesPath)
        let encodedQuery = Self.canonicalQuery(request.query)
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers)
        let canonicalRequest = [
            request.method.uppercased(), encodedPath, encodedQuery, canonicalHeaders, signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, Digest.sha256(Array(canonicalRequest.utf8)).hexString,
        ].joined(separator: "\n")
        let key = keyCache.key(
            secret: credentials.secretAccessKey, day: day, region: region, service: service)
        let signature = Digest.hmacSHA256(keyBytes: key, Array(stringToSign.utf8)).hexString
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        headers.append(("Authorization", authorization))
        return SignedRequest(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, authorization: authorization,
            encodedPath: encodedPath, encodedQuery: encodedQuery, headers: headers)
    }

    package static func signingKey(secret: String, day: String, region: String, service: String) -> [UInt8] {
        var key = Digest.hmacSHA256(keyBytes: Array("AWS4\(secret)".utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] {
            key = Digest.hmacSHA256(keyBytes: key, Array(part.utf8))
        }
        return key
    }

    /// `20150830T123600Z` and `20150830`, always in UTC.
    package static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let day = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))"
        return ("\(day)T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z", day)
    }

    // MARK: - Canonical forms

    /// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` in paths).
    package static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        var path = path.isEmpty ? "/" : path
        if normalize { path = normalizedPath(path) }
        return uriEncode(path, keepSlash: true)
    }

    /// RFC 3986 dot-segment removal plus collapsing of empty segments, keeping a trailing slash.
    static func normalizedPath(_ path: String) -> String {
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = output.popLast()
                continue
            }
            output.append(segment)
        }
        var result = "/" + output.joined(separator: "/")
        let last = path.split(separator: "/", omittingEmptySubsequences: false).last
        if path.hasSuffix("/") || last == "." || last == "..", !output.isEmpty { result += "/" }
        return result
    }

    /// Parameters sorted by encoded name, then encoded value; `name=` for valueless ones.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map {
            (uriEncode($0.name, keepSlash: false), uriEncode($0.value, keepSlash: false))
        }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// Lower-cased names, trimmed values with inner runs of spaces collapsed, repeated headers
    /// joined with commas in order, sorted by name.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (
        canonical: String, signed: String
    ) {
        // A handful of headers per request: a sorted array is cheaper than a dictionary.
        // The original position breaks ties, so repeated headers keep their order.
        var entries: [(name: String, value: String, order: Int)] = []
        entries.reserveCapacity(headers.count)
        for (order, header) in headers.enumerated() {
            entries.append((header.name.lowercased(), header.value, order))
        }
        entries.sort { a, b in a.name == b.name ? a.order < b.order : a.name < b.name }
        var canonical = ""
        var signed = ""
        var previous: String?
        for entry in entries {
            if entry.name == previous {
                canonical.removeLast()  // the line's "\n": a repeated header joins with a comma
                canonical += "," + collapseSpaces(entry.value) + "\n"
                continue
            }
            if previous != nil { signed += ";" }
            signed += entry.name
            canonical += entry.name + ":" + collapseSpaces(entry.value) + "\n"
            previous = entry.name
        }
        return (canonical, signed)
    }

    private static func collapseSpaces(_ value: String) -> String {
        if isCanonicalASCII(value) { return value }
        var out = ""
        var pendingSpace = false
        for ch in value.trimmingCharacters(in: .whitespaces) {
            if ch == " " || ch == "\t" {
                pendingSpace = true
                continue
            }
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            out.append(ch)
        }
        return out
    }

    /// Printable ASCII without a tab, a leading or trailing space or a run of spaces: the
    /// value is already in canonical form (the common case: dates, hashes, types, lengths).
    private static func isCanonicalASCII(_ value: String) -> Bool {
        var previous: UInt8 = 0x20
        for byte in value.utf8 {
            guard byte > 0x20 && byte < 0x7f || byte == 0x20 && previous != 0x20 else { return false }
            previous = byte
        }
        return previous != 0x20
    }
}

/// The last signing key derived, for the secret and day it belongs to. Derivation is four
/// HMACs; a day of requests under one secret needs it once.
private final class SigningKeyCache: Sendable {
    private struct Entry {
        var secret: String
        var day: String
        var region: String
        var service: String
        var key: [UInt8]
    }
    private let entry = Mutex<Entry?>(nil)

    func key(secret: String, day: String, region: String, service: String) -> [UInt8] {
        if let cached = entry.withLock({ entry -> [UInt8]? in
            guard let entry, entry.secret == secret, entry.day == day, entry.region == region,
                entry.service == service
            else { return nil }
            return entry.key
        }) {
            return cached
        }
        let key = SigV4Signer.signingKey(secret: secret, day: day, region: region, service: service)
        entry.withLock { $0 = Entry(secret: secret, day: day, region: region, service: service, key: key) }
        return key
    }
}
