import CassnapCore
import Foundation
import Testing

@testable import CassnapAgent

@Suite struct AgentConfigurationTests {
    static let exampleURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("agent/agent.yaml")

    @Test func exampleConfigLoadsWithTheRealDecoder() throws {
        let c = try AgentConfiguration.load(path: Self.exampleURL.path)
        try c.validate(source: Self.exampleURL.path)
        #expect(c.dataDirectories == ["/var/lib/cassandra/data"])
        #expect(c.store == "s3://example-cassandra-backups/cassnap")
        #expect(c.upload.bandwidth == ByteRate(bytesPerSecond: 50 << 20))
        #expect(c.upload.partSize == ByteSize(bytes: 16 << 20))
        #expect(c.reconcileInterval == Interval(seconds: 300))
        #expect(c.watch == AgentConfiguration.Watch())
        #expect(c.upload.deleteBackupsAfterUpload)
        #expect(!c.snapshotTags.shouldShip(tag: try SnapshotTag("tmp-1")))
        #expect(!c.snapshotTags.shouldShip(tag: try SnapshotTag("2f1e0b5c-3d4a-11ef-9a1b-0242ac120002")))
        #expect(c.snapshotTags.shouldShip(tag: try SnapshotTag("nightly")))
        #expect(!c.tables.allows(keyspace: "system_traces"))
        #expect(!c.tables.allows(keyspace: "system", table: "size_estimates"))
        #expect(c.tables.allows(keyspace: "system", table: "local"))
    }

    @Test func emptyFileTakesDefaults() throws {
        let c = try AgentConfiguration.decode(yaml: "", source: "empty.yaml")
        #expect(c == AgentConfiguration())
        #expect(throws: AgentConfigurationError.self) { try c.validate(source: "empty.yaml") }
    }

    @Test func unknownKeyNamesFileAndKey() {
        let error = #expect(throws: AgentConfigurationError.self) {
            try AgentConfiguration.decode(
                yaml: "store: file:///x\nupload:\n  concurency: 3\n", source: "a.yaml")
        }
        #expect(error?.source == "a.yaml")
        #expect(error?.key == "upload.concurency")
        #expect(error?.description.contains("unknown key") == true)
        #expect(error?.description.contains("did you mean concurrency?") == true, "\(error!)")
    }

    /// Keys are snake_case, as in cassandra.yaml and the coordinator's file; the old camelCase
    /// spelling is an error that names the new one.
    @Test func aCamelCaseKeyIsRefusedWithTheSnakeCaseSpelling() {
        for (yaml, key, suggestion) in [
            ("dataDirectories: [/d]\n", "dataDirectories", "data_directories"),
            ("coordinator:\n  tokenFile: /t\n", "coordinator.tokenFile", "token_file"),
            (
                "snapshot_tags:\n  ignoredCategories: []\n", "snapshot_tags.ignoredCategories",
                "ignored_categories"
            ),
        ] {
            let error = #expect(throws: AgentConfigurationError.self, "\(yaml)") {
                try AgentConfiguration.decode(yaml: yaml, source: "old.yaml")
            }
            #expect(error?.key == key, "\(yaml)")
            #expect(error?.description.contains("did you mean \(suggestion)?") == true, "\(error!)")
        }
    }

    @Test func badValueNamesFileAndKey() {
        let error = #expect(throws: AgentConfigurationError.self) {
            try AgentConfiguration.decode(yaml: "upload:\n  bandwidth: fast\n", source: "b.yaml")
        }
        #expect(error?.key == "upload.bandwidth")
        #expect(error?.description.hasPrefix("b.yaml: upload.bandwidth: ") == true)
        let typeError = #expect(throws: AgentConfigurationError.self) {
            try AgentConfiguration.decode(yaml: "upload:\n  concurrency: many\n", source: "c.yaml")
        }
        #expect(typeError?.key == "upload.concurrency")
    }

    /// Hardening review, item 1: a number that becomes a size or a duration cannot trap.
    @Test func hugeSizesAndDurationsAreRefusedByKey() {
        for (yaml, key) in [
            ("upload:\n  part_size: 1e30GiB\n", "upload.part_size"),
            ("upload:\n  bandwidth: 1e300MiB/s\n", "upload.bandwidth"),
            ("upload:\n  part_size: 9223372036854775807\n", "upload.part_size"),
            ("reconcile_interval: 1e300\n", "reconcile_interval"),
            ("reconcile_interval: 1e300h\n", "reconcile_interval"),
            ("reconcile_interval: .inf\n", "reconcile_interval"),
        ] {
            let error = #expect(throws: AgentConfigurationError.self, "\(yaml)") {
                try AgentConfiguration.decode(yaml: yaml, source: "h.yaml")
            }
            #expect(error?.key == key, "\(yaml)")
        }
        #expect(ByteSize.parse("64MiB") == 64 << 20)
        #expect(Interval.parse("5m") == 300)
    }

    @Test func validationNamesTheKey() throws {
        var c = try AgentConfiguration.decode(
            yaml: "store: file:///tmp/x\ncluster: 'bad name/'\n", source: "d.yaml")
        let error = #expect(throws: AgentConfigurationError.self) { try c.validate(source: "d.yaml") }
        #expect(error?.key == "cluster")
        c.cluster = "ok"
        c.upload.concurrency = 0
        let concurrency = #expect(throws: AgentConfigurationError.self) { try c.validate(source: "d.yaml") }
        #expect(concurrency?.key == "upload.concurrency")
    }

    @Test func unitsParse() throws {
        #expect(try ByteRate(parsing: "10MB/s").bytesPerSecond == 10_000_000)
        #expect(try ByteSize(parsing: "8MiB").bytes == 8 << 20)
        #expect(try Interval(parsing: "5m").seconds == 300)
        #expect(try Interval(parsing: "90s").seconds == 90)
        #expect(
            try AgentConfiguration.Watch(list: "snapshots,live")
                == {
                    var w = AgentConfiguration.Watch()
                    w.backups = false
                    w.live = true
                    return w
                }())
        #expect(throws: AgentConfigurationError.self) { try AgentConfiguration.Watch(list: "snapshot") }
    }
}
