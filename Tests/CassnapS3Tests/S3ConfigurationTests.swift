import CassnapObjectStore
import Foundation
import Testing

@testable import CassnapS3

@Suite struct S3ConfigurationTests {
    let noHome = ["HOME": "/nonexistent-cassnap-home"]

    @Test func urlWithBucketAndPrefix() throws {
        let configuration = try S3ObjectStore.Configuration(
            url: "s3://backups/prod/cluster1/", environment: noHome)
        #expect(configuration.bucket == "backups")
        #expect(configuration.prefix == "prod/cluster1")
        #expect(configuration.rootPrefix == "prod/cluster1/")
        #expect(configuration.region == "us-east-1")
        #expect(configuration.endpoint == nil)
        #expect(!configuration.usesPathStyle)  // AWS and a DNS-safe name: virtual-hosted
        let store = try S3ObjectStore(configuration: configuration)
        #expect(store.displayName == "s3://backups/prod/cluster1")
        #expect(store.endpoint.hostHeader == "backups.s3.us-east-1.amazonaws.com")
        #expect(store.endpoint.path(key: "prod/cluster1/a b") == "/prod/cluster1/a b")
    }

    @Test func regionAndEndpointResolutionOrder() throws {
        var environment = noHome
        environment["REGION"] = "ca-central-1"
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b", environment: environment).region == "ca-central-1")
        environment["AWS_DEFAULT_REGION"] = "eu-north-1"
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b", environment: environment).region == "eu-north-1")
        environment["AWS_REGION"] = "eu-central-1"
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b", environment: environment).region == "eu-central-1")
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b?region=us-west-2", environment: environment).region
                == "us-west-2")

        environment["AWS_ENDPOINT_URL"] = "http://general:9000"
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b", environment: environment).endpoint
                == "http://general:9000")
        environment["AWS_ENDPOINT_URL_S3"] = "http://minio:9000"
        let configuration = try S3ObjectStore.Configuration(url: "s3://b", environment: environment)
        #expect(configuration.endpoint == "http://minio:9000")
        #expect(configuration.usesPathStyle)  // custom endpoints default to path-style
        let store = try S3ObjectStore(configuration: configuration)
        #expect(store.endpoint.hostHeader == "minio:9000")
        #expect(store.endpoint.path(key: "k") == "/b/k")
        #expect(store.endpoint.path(key: nil) == "/b")
    }

    @Test func regionFromProfileConfig() throws {
        let home = try TemporaryHome(config: "[default]\nregion = ap-northeast-1\n")
        defer { home.remove() }
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b", environment: ["HOME": home.path]).region
                == "ap-northeast-1")
    }

    @Test func bucketFromEnvironmentAndOptions() throws {
        var environment = noHome
        environment["BUCKET_NAME"] = "seeded"
        let configuration = try S3ObjectStore.Configuration(
            url: "s3:///p?path-style=true&storage-class=STANDARD_IA&sse=aws:kms&sse-kms-key-id=alias/x",
            environment: environment)
        #expect(configuration.bucket == "seeded")
        #expect(configuration.prefix == "p")
        #expect(configuration.pathStyle == true)
        #expect(configuration.storageClass == "STANDARD_IA")
        #expect(configuration.serverSideEncryption == .kms(keyID: "alias/x"))
        #expect(
            try S3ObjectStore.Configuration(url: "s3://b?sse=AES256", environment: noHome)
                .serverSideEncryption == .s3)
    }

    @Test func badURLsAreRejected() {
        for url in [
            "gs://b", "s3://", "s3://b?colour=red", "s3://b/../x", "s3://b?sse=rot13",
            "s3://b?endpoint=ftp://x",
        ] {
            #expect(throws: ObjectStoreError.self, "\(url)") {
                try S3ObjectStore.Configuration(url: url, environment: noHome)
            }
        }
    }

    @Test func dottedBucketsUsePathStyleOnAWS() throws {
        let configuration = try S3ObjectStore.Configuration(url: "s3://my.bucket", environment: noHome)
        #expect(configuration.usesPathStyle)
        #expect(!S3ObjectStore.Configuration.isVirtualHostSafe("Upper"))
        #expect(S3ObjectStore.Configuration.isVirtualHostSafe("cassnap-prod-1"))
    }

    @Test func partSizeGrowsToStayWithinTenThousandParts() throws {
        var configuration = try S3ObjectStore.Configuration(url: "s3://b", environment: noHome)
        configuration.partSize = 8 << 20
        #expect(configuration.effectivePartSize(objectSize: 1 << 30) == 8 << 20)
        let fiveTiB: Int64 = 5 << 40
        let size = configuration.effectivePartSize(objectSize: fiveTiB)
        #expect((fiveTiB + size - 1) / size <= 10_000)
        #expect(size % (1 << 20) == 0)
        configuration.partSize = 1 << 20
        #expect(configuration.effectivePartSize(objectSize: 100 << 20) == 5 << 20)  // S3's minimum
    }
}
