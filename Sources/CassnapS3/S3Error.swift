import CassnapHTTP
import CassnapObjectStore
import Foundation

/// The `<Error>` document S3 sends with a failed request.
struct S3ErrorDocument: Sendable {
    var code: String
    var message: String
    var region: String?

    init?(_ body: [UInt8]) {
        guard let root = XMLElementNode.parse(body), root.name == "Error" else { return nil }
        code = root["Code"] ?? ""
        message = root["Message"] ?? ""
        region = root["Region"]
    }

    init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

extension S3ObjectStore {
    /// Turns an unsuccessful S3 answer into the store's error vocabulary.
    func error(for response: HTTPResponse, key: String?, operation: String) -> ObjectStoreError {
        let document =
            S3ErrorDocument(response.body)
            ?? S3ErrorDocument(
                code: response.header("x-amz-error-code") ?? "",
                message: response.header("x-amz-error-message") ?? "")
        return error(
            status: response.status, document: document, key: key, operation: operation, response: response)
    }

    func error(
        status: Int, document: S3ErrorDocument, key: String?, operation: String, response: HTTPResponse? = nil
    ) -> ObjectStoreError {
        let store = displayName
        let bucket = configuration.bucket
        let code = document.code
        var detail = code.isEmpty ? "HTTP \(status)" : "\(code) (HTTP \(status))"
        if !document.message.isEmpty { detail += ": \(document.message)" }
        let requestID = response?.header("x-amz-request-id")
        let context =
            "\(operation)\(key.map { " \($0)" } ?? ""): \(detail)"
            + (requestID.map { " [request id \($0)]" } ?? "")

        switch code {
        case "NoSuchBucket":
            return .noSuchBucket(store: store, bucket: bucket)
        case "NoSuchKey":
            return key.map { .notFound(store: store, key: $0) } ?? .permanent(store: store, detail: context)
        case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
            "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem", "InvalidSecurity":
            return .accessDenied(store: store, bucket: bucket, detail: context)
        case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch":
            return .checksumMismatch(
                store: store, key: key ?? "(request)", expected: "the bytes sent",
                actual: "rejected by the server (\(code))")
        case "RequestTimeTooSkewed":
            return .permanent(store: store, detail: context + " (check this host's clock)")
        case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted",
            "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests":
            return .transient(store: store, detail: context)
        case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
            let region = document.region ?? response?.header("x-amz-bucket-region")
            let hint =
                region.map { " (the bucket is in region \($0); set the region)" }
                ?? " (check the region and endpoint)"
            return .permanent(store: store, detail: context + hint)
        default:
            break
        }
        switch status {
        case 404 where key != nil && code.isEmpty:
            return .notFound(store: store, key: key!)
        case 401, 403:
            return .accessDenied(store: store, bucket: bucket, detail: context)
        case 408, 429, 500...599:
            return .transient(store: store, detail: context)
        case 301, 307:
            let region = response?.header("x-amz-bucket-region")
            return .permanent(
                store: store,
                detail: context
                    + (region.map { " (the bucket is in region \($0))" } ?? " (redirect: check the region)"))
        default:
            return .permanent(store: store, detail: context)
        }
    }

    /// Transport failures (resets, timeouts, DNS) are worth retrying; our own request bugs are not.
    func error(for thrown: any Error, key: String?, operation: String) -> any Error {
        let what = "\(operation)\(key.map { " \($0)" } ?? "")"
        switch thrown {
        case let e as ObjectStoreError: return e
        case let e as HTTPError:
            return e.isRetryable
                ? ObjectStoreError.transient(store: displayName, detail: "\(what): \(e)")
                : ObjectStoreError.permanent(store: displayName, detail: "\(what): \(e)")
        case let e as AWSCredentialsError:
            if e.isRetryable {
                return ObjectStoreError.transient(store: displayName, detail: "credentials: \(e)")
            }
            return ObjectStoreError.accessDenied(
                store: displayName, bucket: configuration.bucket, detail: "\(e)")
        case is CancellationError, is SimulatedCrash: return thrown
        default:
            return ObjectStoreError.permanent(store: displayName, detail: "\(what): \(thrown)")
        }
    }
}
