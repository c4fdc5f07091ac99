import CassnapHTTP
import CassnapObjectStore
import Foundation

extension GCSObjectStore {
    /// Where a resumed upload learns how many bytes the server already holds.
    package enum ResumeOffsetSource: Sendable {
        /// Ask the server (`PUT` with `Content-Range: bytes */total`): the GCS protocol.
        case server
        /// Use the offset recorded in the `UploadSessionStore` after each acknowledged chunk.
        /// For fake-gcs-server (1.54), which finalizes the object on a status query instead of
        /// answering it; a stale record there yields a checksum mismatch, never a bad object.
        case recorded
    }

    /// Hooks that let tests interrupt an upload the way a crash would.
    package struct TestHooks: Sendable {
        /// Throw after this many chunks of a resumable upload were acknowledged, leaving the
        /// session recorded as a killed process would.
        package var failAfterChunks: Int?
        /// Runs after the local checksums are computed and before any byte is sent.
        package var afterHashing: (@Sendable () -> Void)?

        package init(failAfterChunks: Int? = nil, afterHashing: (@Sendable () -> Void)? = nil) {
            self.failAfterChunks = failAfterChunks
            self.afterHashing = afterHashing
        }
    }

    package struct Configuration: Sendable {
        package static let defaultEndpoint = "https://storage.googleapis.com"
        /// GCS requires resumable chunks (all but the last) to be multiples of 256 KiB.
        package static let chunkGranularity = 256 << 10

        package var bucket: String
        /// Folder inside the bucket that holds every key, without leading or trailing `/`.
        package var prefix: String
        /// Scheme and host of the JSON API, no trailing `/`.
        package var endpoint: String
        package var credentials: any GCSCredentialsProvider
        /// Objects at least this large use a resumable upload; smaller ones one multipart request
        /// (whose body is assembled in memory, so keep this modest).
        package var resumableThreshold: Int64 = 8 << 20
        /// Bytes per resumable chunk; rounded down to a multiple of 256 KiB (at least 256 KiB).
        package var chunkSize: Int = 16 << 20
        /// Page size for listings (GCS caps it at 1000); tests set 2 to force paging.
        package var maxResults: Int = 1000
        /// Deletes per batch request (the batch endpoint takes at most 100).
        package var batchSize: Int = 100
        /// Remembers resumable sessions across restarts; the agent passes its SQLite-backed one.
        package var sessionStore: any UploadSessionStore = InMemoryUploadSessionStore()
        package var resumeOffset: ResumeOffsetSource = .server
        /// How often one resumable upload recovers from a failed chunk before giving up.
        package var chunkRecoveryAttempts: Int = 3
        /// Project that owns buckets `createBucket()` makes (tests, demos).
        package var project: String?
        package var http: HTTPClientConfiguration = .init()
        package var testHooks: TestHooks = .init()

        package init(
            bucket: String, prefix: String = "", endpoint: String = Configuration.defaultEndpoint,
            credentials: any GCSCredentialsProvider = GCSLazyCredentials(
                environment: ProcessInfo.processInfo.environment)
        ) {
            self.bucket = bucket
            self.prefix = Configuration.trimSlashes(prefix)
            self.endpoint = Configuration.trimTrailingSlashes(endpoint)
            self.credentials = credentials
        }

        /// Builds a configuration from `gs://bucket/prefix` and the process environment:
        /// `STORAGE_EMULATOR_HOST` (host:port or a URL) selects an emulator without auth;
        /// otherwise Application Default Credentials (`credentialsFile`, then
        /// `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server, whose host
        /// `GCE_METADATA_HOST` overrides). `GOOGLE_CLOUD_PROJECT` sets `project`.
        package init(url: String, environment: [String: String], credentialsFile: String? = nil) throws {
            func invalid(_ reason: String) -> ObjectStoreError { .invalidURL(url: url, reason: reason) }
            guard url.hasPrefix("gs://") else { throw invalid("a GCS URL starts with gs://") }
            let rest = url.dropFirst("gs://".count)
            if rest.contains("?") || rest.contains("#") { throw invalid("query strings are not supported") }
            let bucket = String(rest.prefix { $0 != "/" })
            let prefix = Configuration.trimSlashes(String(rest.dropFirst(bucket.count)))
            if let reason = Configuration.bucketNameProblem(bucket) { throw invalid(reason) }
            if !prefix.isEmpty {
                do { try validateObjectKey(prefix) } catch {
                    throw invalid("prefix \(prefix.debugDescription) is not a valid key path")
                }
            }
            if let emulator = GCSCredentials.nonEmpty(environment["STORAGE_EMULATOR_HOST"]) {
                let endpoint = emulator.contains("://") ? emulator : "http://" + emulator
                self.init(
                    bucket: bucket, prefix: prefix, endpoint: endpoint, credentials: GCSAnonymousCredentials()
                )
                resumeOffset = .recorded
            } else {
                let credentials = try GCSCredentials.applicationDefault(
                    environment: environment, keyFile: credentialsFile)
                self.init(bucket: bucket, prefix: prefix, credentials: credentials)
            }
            project =
                GCSCredentials.nonEmpty(environment["GOOGLE_CLOUD_PROJECT"])
                ?? GCSCredentials.nonEmpty(environment["CLOUDSDK_CORE_PROJECT"])
        }

        /// Why `name` cannot be a GCS bucket, or nil when it can.
        package static func bucketNameProblem(_ name: String) -> String? {
            if name.isEmpty { return "the bucket name is missing (gs://bucket/prefix)" }
            if name.count < 3 || name.count > 222 {
                return "bucket name \(name.debugDescription) must have 3 to 222 characters"
            }
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
            if !name.allSatisfy({ allowed.contains($0) }) {
                return
                    "bucket name \(name.debugDescription) may only hold lower-case letters, digits, '-', '_' and '.'"
            }
            let alphanumeric = Set("abcdefghijklmnopqrstuvwxyz0123456789")
            if !alphanumeric.contains(name.first!) || !alphanumeric.contains(name.last!) {
                return "bucket name \(name.debugDescription) must start and end with a letter or digit"
            }
            return nil
        }

        /// `chunkSize` rounded to what GCS accepts.
        var effectiveChunkSize: Int {
            max(
                Configuration.chunkGranularity,
                chunkSize / Configuration.chunkGranularity * Configuration.chunkGranularity)
        }

        static func trimSlashes(_ s: String) -> String {
            var s = Substring(s)
            while s.hasPrefix("/") { s = s.dropFirst() }
            while s.hasSuffix("/") { s = s.dropLast() }
            return String(s)
        }

        static func trimTrailingSlashes(_ s: String) -> String {
            var s = Substring(s)
            while s.hasSuffix("/") { s = s.dropLast() }
            return String(s)
        }
    }
}
