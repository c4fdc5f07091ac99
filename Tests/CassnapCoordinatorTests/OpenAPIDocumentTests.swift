import CassnapCoordinator
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing
import Yams

/// The source tree's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite("coordinator/ documents")
struct CoordinatorDocumentTests {
    @Test func everyServedRouteIsInOpenAPIAndViceVersa() async throws {
        let text = try String(
            contentsOf: repositoryRoot.appendingPathComponent("coordinator/openapi.yaml"), encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head"]
        var documented: Set<RouteDescription> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where methods.contains(method) {
                documented.insert(RouteDescription(method: method.uppercased(), path: path))
            }
        }
        let served = try TemporaryDirectory.with { dir in
            Set(
                try buildApplication(
                    configuration: configuration(directory: dir), store: InMemoryObjectStore()
                ).routes)
        }
        #expect(served.count == 25)
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
    }

    /// Issue 11: the coordinator's YAML rejects unknown keys as the agent's does, naming the
    /// file, the key and the key it most likely meant.
    @Test func anUnknownOrMisspeltKeyIsAnErrorNamingFileKeyAndSuggestion() throws {
        for (yaml, mentions) in [
            (
                "snapshots:\n  deadline_secnds: 5\n",
                "'snapshots.deadline_secnds': unknown key; did you mean deadline_seconds?"
            ),
            ("logLevel: debug\n", "'logLevel': unknown key; did you mean log_level?"),
            ("listen_address: 0.0.0.0:1\n", "'listen_address': unknown key"),
            (
                "prefix: backups\n",
                "'prefix': no longer a setting: put the key prefix in the store URL's path"
            ),
        ] {
            let error = #expect(throws: ConfigurationError.self, "\(yaml)") {
                try CoordinatorConfiguration.load(yaml: yaml, source: "/etc/cassnap/coordinator.yaml")
            }
            #expect(error?.field == "/etc/cassnap/coordinator.yaml", "\(yaml)")
            #expect(error?.message.contains(mentions) == true, "\(error.map(String.init(describing:)) ?? "")")
        }
    }

    @Test func theExampleConfigurationLoadsWithTheRealDecoder() throws {
        let path = repositoryRoot.appendingPathComponent("coordinator/coordinator.yaml").path
        let configuration = try CoordinatorConfiguration.load(yamlFile: path)
        #expect(configuration.listen == "127.0.0.1:8420")
        #expect(configuration.cluster == "Test Cluster")
        #expect(configuration.snapshots.deadlineSeconds == 600)
        #expect(configuration.snapshots.maximumManifestBytes == 128 << 20)
        #expect(configuration.idleTimeoutSeconds == 30)
        #expect(configuration.agentTokenFile == "/etc/cassnap/agent.token")
        #expect(configuration.adminTokenFile == "/etc/cassnap/admin.token")
        try TemporaryDirectory.with { dir in
            var c = configuration
            c.agentTokenFile = dir.appendingPathComponent("agent.token").path
            c.adminTokenFile = dir.appendingPathComponent("admin.token").path
            try "3b9e0c2f6a1d4e58b7c0a9f1\n".write(
                toFile: c.agentTokenFile, atomically: true, encoding: .utf8)
            try "d41f7a2c9e3b6d8005f1c2a7".write(toFile: c.adminTokenFile, atomically: true, encoding: .utf8)
            try c.readTokenFiles()
            #expect(c.agentToken == "3b9e0c2f6a1d4e58b7c0a9f1")
            try c.validate()
            var withEnvironment = c
            withEnvironment.applyEnvironment(["CASSNAP_ADMIN_TOKEN": "from-env-0123456789"])
            #expect(withEnvironment.adminToken == "from-env-0123456789")
        }
    }

    /// Item 7 of the hardening review: example, short and shared tokens are refused by name.
    @Test func weakTokensAndTokenFileMistakesAreRefused() throws {
        var c = CoordinatorConfiguration()
        c.store = "memory://x"
        c.agentToken = "change-me-agent-token"
        c.adminToken = "7c1e9a3f5b2d4c6e8a0f1b3d"
        func field(_ c: CoordinatorConfiguration) -> String? {
            do {
                try c.validate()
                return nil
            } catch let error as ConfigurationError { return error.field } catch { return "\(error)" }
        }
        #expect(field(c) == "agent_token")
        c.agentToken = "x"
        #expect(field(c) == "agent_token")
        c.agentToken = "fifteen-chars-x"
        #expect(field(c) == "agent_token")
        c.agentToken = "sixteen-chars-xy"
        #expect(field(c) == nil)
        c.adminToken = "Change-Me-please-0123"
        #expect(field(c) == "admin_token")

        try TemporaryDirectory.with { dir in
            var both = CoordinatorConfiguration()
            both.agentToken = "sixteen-chars-xy"
            both.agentTokenFile = dir.appendingPathComponent("agent.token").path
            #expect(throws: ConfigurationError.self) { try both.readTokenFiles() }
            var missing = CoordinatorConfiguration()
            missing.adminTokenFile = dir.appendingPathComponent("nope").path
            do {
                try missing.readTokenFiles()
                Issue.record("a missing token file was accepted")
            } catch let error as ConfigurationError {
                #expect(error.field == "admin_token_file")
                #expect(error.message.contains("nope"))
            }
        }
    }

    /// Items 1 and 2: every number that becomes a duration is range-checked at start.
    @Test func outOfRangeDurationsInTheConfigurationAreRefused() throws {
        for (yaml, name) in [
            ("snapshots:\n  deadline_seconds: 1e300\n", "snapshots.deadline_seconds"),
            ("snapshots:\n  deadline_seconds: 0\n", "snapshots.deadline_seconds"),
            ("snapshots:\n  live_node_seconds: .inf\n", "snapshots.live_node_seconds"),
            ("snapshots:\n  scheduler_interval_seconds: 1e300\n", "snapshots.scheduler_interval_seconds"),
            ("idle_timeout_seconds: -1\n", "idle_timeout_seconds"),
            ("snapshots:\n  max_manifest_bytes: 1\n", "snapshots.max_manifest_bytes"),
        ] {
            var c = try CoordinatorConfiguration.load(yaml: yaml)
            c.store = "memory://x"
            c.agentToken = "sixteen-chars-xy"
            c.adminToken = "7c1e9a3f5b2d4c6e8a0f1b3d"
            do {
                try c.validate()
                Issue.record("accepted \(yaml)")
            } catch let error as ConfigurationError {
                #expect(error.field == name, "\(yaml)")
            }
        }
    }

    @Test func aConfigurationMistakeNamesTheSetting() throws {
        var c = CoordinatorConfiguration()
        c.store = "memory://x"
        c.agentToken = "same-token-for-both"
        c.adminToken = "same-token-for-both"
        #expect(throws: ConfigurationError.self) { try c.validate() }
        c.adminToken = "other-token-for-admins"
        c.listen = "nowhere"
        do {
            try c.validate()
            Issue.record("accepted listen \(c.listen)")
        } catch let error as ConfigurationError {
            #expect(error.field == "listen")
        }
        #expect(throws: ConfigurationError.self) {
            try CoordinatorConfiguration.load(yaml: "snapshots:\n  deadline_seconds: soon\n")
        }
    }
}
