import CassnapS3
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Issue 11: the agent sets the store's retry observer, so every retry is a log line with its
/// cause, not an invisible delay.
@Suite struct AgentRetryLogTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func eachStoreRetryIsLoggedWithItsCause() async throws {
        try await TemporaryDirectory.with { root in
            let upstream = try TestServers.requireS3()
            let proxy = try FaultProxy(upstream: upstream)
            let bucket = "cassnap-retry-\(UInt32.random(in: 0...UInt32.max))"
            try await S3ObjectStore(
                configuration: S3ObjectStore.Configuration(
                    bucket: bucket, prefix: "", endpoint: upstream,
                    credentials: StaticCredentialsProvider(accessKeyId: "testing", secretAccessKey: "testing")
                )
            ).createBucket()
            let node = try AgentStormTests.buildNode(root, keyspaces: 1, tables: 1, sstables: 1)
            try FakeNodetool(dataDirectories: node.dataDirectories).snapshot(tag: "retried")
            let configuration = AgentTestSupport.configuration(
                node: node, store: "s3://\(bucket)/b?endpoint=\(proxy.url)&path-style=true",
                state: root.appendingPathComponent("state"))
            proxy.inject(.respond(status: 503), matching: "PUT /")
            let log = CapturedLog()
            let agent = try await Agent.build(
                configuration: configuration, once: true, logger: log.logger(),
                environment: [
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true",
                ])
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")
            #expect(proxy.injectedCount == 1)
            let retries = log.records("Retrying a store request")
            #expect(retries.count == 1, "\(log.records.map(\.message))")
            #expect(retries.first?.level == .warning)
            #expect(
                retries.first?.metadata["error.message"]?.contains("503") == true,
                "\(retries.first?.metadata ?? [:])")
            #expect(retries.first?.metadata["store.operation"] == "put")
            #expect(retries.first?.metadata["object.key"]?.hasPrefix("test-cluster/nodes/") == true)
            #expect(retries.first?.metadata["retry.attempt"] == "2")
        }
    }
}
