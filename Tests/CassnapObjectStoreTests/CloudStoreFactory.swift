import CassnapGCS
import CassnapObjectStore
import CassnapS3
import CassnapTestSupport
import Foundation

/// Builds S3 and GCS stores against the test servers, each in a fresh bucket, with small parts
/// and pages so multipart, resumable chunks and paging are exercised.
enum CloudStoreFactory {
    static func make(_ kind: StoreKind, bucket: String, endpointOverride: String?, smallPages: Bool)
        async throws
        -> any ObjectStore
    {
        switch kind {
        case .gcs:
            let endpoint = try endpointOverride ?? TestServers.requireGCS()
            var configuration = try GCSObjectStore.Configuration(
                url: "gs://\(bucket)/conformance",
                environment: ["STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "cassnap-test"])
            if smallPages { configuration.maxResults = 2 }
            configuration.resumableThreshold = 4 << 20
            configuration.chunkSize = 1 << 20
            let store = GCSObjectStore(configuration: configuration)
            try await store.createBucket()
            return store
        case .s3Moto, .s3Rclone:
            let endpoint: String
            let credentials: StaticCredentialsProvider
            if kind == .s3Moto {
                endpoint = try endpointOverride ?? TestServers.requireS3()
                credentials = StaticCredentialsProvider(accessKeyId: "testing", secretAccessKey: "testing")
            } else {
                let rclone = try TestServers.requireRcloneS3()
                endpoint = endpointOverride ?? rclone.endpoint
                credentials = StaticCredentialsProvider(
                    accessKeyId: rclone.accessKey, secretAccessKey: rclone.secretKey)
            }
            var configuration = S3ObjectStore.Configuration(
                bucket: bucket, prefix: "conformance", region: "us-east-1", endpoint: endpoint,
                credentials: credentials)
            if smallPages { configuration.maxKeys = 2 }
            configuration.multipartThreshold = 8 << 20
            configuration.partSize = 5 << 20
            let store = try S3ObjectStore(configuration: configuration)
            try await store.createBucket()
            return store
        case .memory, .filesystem:
            preconditionFailure("\(kind) is not a cloud store")
        }
    }
}
