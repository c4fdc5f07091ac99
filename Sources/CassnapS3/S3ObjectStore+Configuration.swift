import CassnapHTTP
import CassnapObjectStore
import Foundation

extension S3ObjectStore {
    /// Server-side encryption requested on every put.
    package enum ServerSideEncryption: Sendable, Equatable {
        /// SSE-S3: `x-amz-server-side-encryption: AES256`.
        case s3
        /// SSE-KMS with the bucket's default key (nil) or the given key id / ARN.
        case kms(keyID: String?)
    }

    /// Hooks for tests that simulate a crash mid-upload and count the parts sent.
    package struct TestHooks: Sendable {
        /// Throw `SimulatedCrash` (without aborting the upload) once this many parts were uploaded.
        package var failAfterParts: Int? = nil
        /// Called with the part number after each part upload the server accepted.
        package var onPartUploaded: (@Sendable (Int) -> Void)? = nil

        package init(failAfterParts: Int? = nil, onPartUploaded: (@Sendable (Int) -> Void)? = nil) {
            self.failAfterParts = failAfterParts
            self.onPartUploaded = onPartUploaded
        }
    }

    package struct SimulatedCrash: Error, CustomStringConvertible {
        package var partsUploaded: Int
        package var description: String {
            "simulated crash after \(partsUploaded) uploaded parts (test hook)"
        }
    }

    package struct Configuration: Sendable {
        package var bucket: String
        /// Prepended to every key (`backups/prod`), without leading or trailing `/`.
        package var prefix: String = ""
        package var region: String = "us-east-1"
        /// `https://minio.local:9000` for S3-compatible servers; nil for AWS
        /// (`https://s3.<region>.amazonaws.com`).
        package var endpoint: String? = nil
        /// Path-style (`endpoint/bucket/key`) or virtual-hosted (`bucket.endpoint/key`) URLs.
        /// nil picks: virtual-hosted on AWS when the bucket name is DNS-safe, path-style on
        /// custom endpoints.
        package var pathStyle: Bool? = nil
        /// Objects at least this large are uploaded in parts.
        package var multipartThreshold: Int64 = 64 << 20
        /// Preferred part size; grown so an object never needs more than 10,000 parts.
        package var partSize: Int64 = 16 << 20
        /// Parts uploaded at once per object.
        package var partConcurrency: Int = 4
        /// Attempts per part (transient errors and digest mismatches) before the put fails.
        package var partAttempts: Int = 3
        /// Page size for listings (S3 allows at most 1000); tests lower it to force paging.
        package var maxKeys: Int = 1000
        package var serverSideEncryption: ServerSideEncryption? = nil
        /// `STANDARD_IA`, `INTELLIGENT_TIERING`, ...; nil leaves the bucket default.
        package var storageClass: String? = nil
        package var credentials: any AWSCredentialsProvider
        /// Remembers multipart uploads so a restarted process resumes them.
        package var sessionStore: (any UploadSessionStore)? = nil
        package var http: HTTPClientConfiguration = .init()
        package var testHooks: TestHooks = .init()

        package init(
            bucket: String, prefix: String = "", region: String = "us-east-1", endpoint: String? = nil,
            credentials: any AWSCredentialsProvider
        ) {
            self.bucket = bucket
            self.prefix = prefix
            self.region = region
            self.endpoint = endpoint
            self.credentials = credentials
        }

        /// Builds a configuration from `s3://bucket/prefix` and the environment, the way the AWS
        /// CLI would resolve it:
        /// - endpoint: `?endpoint=` in the URL, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`;
        /// - region: `?region=`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `REGION`, the profile's
        ///   `region` in `~/.aws/config`, else `us-east-1`;
        /// - bucket: from the URL, or `BUCKET_NAME` for `s3:///prefix`;
        /// - `?path-style=true|false`, `?storage-class=`, `?sse=AES256|aws:kms`, `?sse-kms-key-id=`;
        /// - credentials: the standard chain over `environment`.
        package init(url: String, environment: [String: String]) throws {
            func fail(_ reason: String) -> ObjectStoreError { .invalidURL(url: url, reason: reason) }
            guard let components = URLComponents(string: url), components.scheme?.lowercased() == "s3" else {
                throw fail("expected s3://bucket/prefix")
            }
            func env(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
            var query: [String: String] = [:]
            for item in components.queryItems ?? [] { query[item.name.lowercased()] = item.value ?? "" }
            let known: Set = ["region", "endpoint", "path-style", "storage-class", "sse", "sse-kms-key-id"]
            if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
                throw fail("unknown parameter \(unknown) (known: \(known.sorted().joined(separator: ", ")))")
            }

            guard let bucket = components.host.flatMap({ $0.isEmpty ? nil : $0 }) ?? env("BUCKET_NAME") else {
                throw fail("no bucket name (s3://bucket/prefix, or set BUCKET_NAME)")
            }
            try Self.validateBucket(bucket, url: url)
            let prefix = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !prefix.isEmpty {
                do { try validateObjectKey(prefix) } catch { throw fail("bad prefix: \(error)") }
            }
            let files = AWSSharedFiles(environment: environment)
            let region =
                query["region"].flatMap { $0.isEmpty ? nil : $0 } ?? env("AWS_REGION") ?? env(
                    "AWS_DEFAULT_REGION")
                ?? env("REGION") ?? files.region() ?? "us-east-1"
            let endpoint =
                query["endpoint"].flatMap { $0.isEmpty ? nil : $0 } ?? env("AWS_ENDPOINT_URL_S3")
                ?? env("AWS_ENDPOINT_URL")
            if let endpoint {
                guard let e = URLComponents(string: endpoint), let scheme = e.scheme?.lowercased(),
                    scheme == "http" || scheme == "https", e.host?.isEmpty == false
                else { throw fail("endpoint \(endpoint) is not an http(s) URL") }
            }
            self.init(
                bucket: bucket, prefix: prefix, region: region, endpoint: endpoint,
                credentials: AWSCredentialsChain.standard(environment: environment))
            if let style = query["path-style"] {
                switch style.lowercased() {
                case "true", "1", "yes": pathStyle = true
                case "false", "0", "no": pathStyle = false
                default: throw fail("path-style must be true or false")
                }
            }
            if let storageClass = query["storage-class"], !storageClass.isEmpty {
                self.storageClass = storageClass
            }
            switch query["sse"]?.lowercased() {
            case nil, "": break
            case "aes256": serverSideEncryption = .s3
            case "aws:kms", "kms":
                serverSideEncryption = .kms(keyID: query["sse-kms-key-id"].flatMap { $0.isEmpty ? nil : $0 })
            case let other?: throw fail("sse must be AES256 or aws:kms, not \(other)")
            }
        }

        static func validateBucket(_ bucket: String, url: String) throws {
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            guard (1...255).contains(bucket.count), bucket.allSatisfy({ allowed.contains($0) }) else {
                throw ObjectStoreError.invalidURL(
                    url: url, reason: "bucket name \(bucket.debugDescription) is not valid")
            }
        }

        /// Part size for an object: at least the configured size and S3's 5 MiB minimum, big
        /// enough for 10,000 parts, rounded up to whole MiB.
        package func effectivePartSize(objectSize: Int64) -> Int64 {
            let mib: Int64 = 1 << 20
            var size = max(partSize, 5 * mib)
            let needed = (objectSize + 9_999) / 10_000
            if needed > size { size = (needed + mib - 1) / mib * mib }
            return size
        }

        /// The key prefix with a trailing `/`, or "".
        package var rootPrefix: String {
            let trimmed = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            return trimmed.isEmpty ? "" : trimmed + "/"
        }

        var usesPathStyle: Bool {
            if let pathStyle { return pathStyle }
            if endpoint != nil { return true }
            return !Self.isVirtualHostSafe(bucket)
        }

        /// DNS-safe and no dots (dots break the `*.s3.amazonaws.com` TLS certificate).
        static func isVirtualHostSafe(_ bucket: String) -> Bool {
            guard (3...63).contains(bucket.count), !bucket.hasPrefix("-"), !bucket.hasSuffix("-") else {
                return false
            }
            return bucket.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }
}
