import CassnapCoordinator
import CassnapStore
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
        #expect(served.count == 14)
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
    }

    @Test func theExampleConfigurationLoadsWithTheRealDecoder() throws {
        let path = repositoryRoot.appendingPathComponent("coordinator/coordinator.yaml").path
        let configuration = try CoordinatorConfiguration.load(yamlFile: path)
        #expect(configuration.listen == "127.0.0.1:8420")
        #expect(configuration.cluster == "Test Cluster")
        #expect(configuration.snapshots.deadlineSeconds == 600)
        try configuration.validate()
        var withEnvironment = configuration
        withEnvironment.applyEnvironment(["CASSNAP_ADMIN_TOKEN": "from-env"])
        #expect(withEnvironment.adminToken == "from-env")
    }

    @Test func aConfigurationMistakeNamesTheSetting() throws {
        var c = CoordinatorConfiguration()
        c.store = "memory://x"
        c.agentToken = "same"
        c.adminToken = "same"
        #expect(throws: ConfigurationError.self) { try c.validate() }
        c.adminToken = "other"
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
