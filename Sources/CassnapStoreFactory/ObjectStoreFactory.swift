import CassnapGCS
import CassnapObjectStore
import CassnapS3
import Foundation

/// Settings that apply whichever backend a URL names. Each wrapper is optional.
package struct StoreSettings: Sendable {
    /// Retry transient failures (nil: no retry wrapper).
    package var retry: RetryingObjectStore.Policy? = RetryingObjectStore.Policy()
    package var onRetry: RetryingObjectStore.RetryObserver? = nil
    /// Calls into the store at once (nil: unlimited).
    package var maxConcurrentRequests: Int? = 8
    /// One upload rate shared by all uploads, bytes per second (nil: unlimited).
    package var bandwidthBytesPerSecond: Int64? = nil
    /// Remembers multipart/resumable uploads across restarts.
    package var sessionStore: (any UploadSessionStore)? = nil
    /// S3 multipart part size (nil: the store's default).
    package var partSize: Int64? = nil
    /// Objects at least this large use multipart (S3) or resumable (GCS) uploads.
    package var multipartThreshold: Int64? = nil

    package init() {}
}

/// The one place that turns a store URL into a store: `s3://bucket/prefix`,
/// `gs://bucket/prefix`, `file:///path`, `memory://name`.
package enum ObjectStoreFactory {
    package static let supportedSchemes = ["s3", "gs", "file", "memory"]

    /// The backend alone, without wrappers.
    package static func backend(
        url: String, settings: StoreSettings = .init(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any ObjectStore {
        guard let colon = url.range(of: "://") else {
            throw ObjectStoreError.invalidURL(
                url: url,
                reason: "expected a URL such as s3://bucket/prefix, gs://bucket/prefix or file:///path")
        }
        let scheme = url[..<colon.lowerBound].lowercased()
        switch scheme {
        case "s3":
            var configuration = try S3ObjectStore.Configuration(url: url, environment: environment)
            if let s = settings.sessionStore { configuration.sessionStore = s }
            if let p = settings.partSize { configuration.partSize = p }
            if let t = settings.multipartThreshold { configuration.multipartThreshold = t }
            return try S3ObjectStore(configuration: configuration)
        case "gs":
            var configuration = try GCSObjectStore.Configuration(url: url, environment: environment)
            if let s = settings.sessionStore { configuration.sessionStore = s }
            if let p = settings.partSize { configuration.chunkSize = Int(p) }
            if let t = settings.multipartThreshold { configuration.resumableThreshold = t }
            return GCSObjectStore(configuration: configuration)
        case "file":
            let path = String(url[colon.upperBound...])
            guard path.hasPrefix("/") else {
                throw ObjectStoreError.invalidURL(
                    url: url, reason: "a file URL needs an absolute path: file:///var/backups/cassnap")
            }
            return try FileSystemObjectStore(root: path)
        case "memory":
            return InMemoryObjectStore(name: url)
        default:
            throw ObjectStoreError.invalidURL(
                url: url,
                reason: "unknown scheme '\(scheme)' (supported: \(supportedSchemes.joined(separator: ", ")))")
        }
    }

    /// The backend wrapped, innermost first, in bandwidth limit, retry and concurrency limit.
    package static func open(
        url: String, settings: StoreSettings = .init(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any ObjectStore {
        wrap(try backend(url: url, settings: settings, environment: environment), settings: settings)
    }

    package static func wrap(_ base: any ObjectStore, settings: StoreSettings) -> any ObjectStore {
        var store = base
        if let rate = settings.bandwidthBytesPerSecond {
            store = BandwidthLimitedObjectStore(store, bytesPerSecond: rate)
        }
        if let policy = settings.retry {
            store = RetryingObjectStore(store, policy: policy, onRetry: settings.onRetry)
        }
        if let limit = settings.maxConcurrentRequests {
            store = ConcurrencyLimitedObjectStore(store, limit: limit)
        }
        return store
    }
}
