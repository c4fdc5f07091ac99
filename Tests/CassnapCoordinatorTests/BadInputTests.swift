import CassnapAPI
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

/// Invariant 7: bad input gets a clear 4xx naming the field, and changes nothing.
@Suite("Bad input and credentials")
struct BadInputTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var method: String
        var path: String
        var body: String?
        var status: Int
        /// Text the error message must contain (the field or id at fault).
        var mentions: String
        var description: String { name }
    }

    static let host = "6f1c2a4e-0000-4000-8000-000000000001"

    static let cases: [Case] = [
        Case(
            name: "malformed JSON", method: "POST", path: "/v1/snapshots", body: "{\"delaySeconds\": 3",
            status: 400, mentions: "JSON"),
        Case(
            name: "empty body", method: "POST", path: "/v1/snapshots", body: "", status: 400, mentions: "body"
        ),
        Case(
            name: "wrong type", method: "POST", path: "/v1/snapshots", body: #"{"delaySeconds": "soon"}"#,
            status: 400, mentions: "delaySeconds"),
        Case(
            name: "wrong array type", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "keyspaces": "shop"}"#, status: 400, mentions: "keyspaces"),
        Case(
            name: "instant in the past", method: "POST", path: "/v1/snapshots",
            body: #"{"at": "2001-01-01T00:00:00Z"}"#, status: 400, mentions: "at"),
        Case(
            name: "not an instant", method: "POST", path: "/v1/snapshots", body: #"{"at": "tomorrow"}"#,
            status: 400, mentions: "at"),
        Case(
            name: "both at and delay", method: "POST", path: "/v1/snapshots",
            body: #"{"at": "2999-01-01T00:00:00Z", "delaySeconds": 5}"#, status: 400, mentions: "not both"),
        Case(
            name: "neither at nor delay", method: "POST", path: "/v1/snapshots", body: #"{"tag": "x"}"#,
            status: 400, mentions: "at"),
        Case(
            name: "negative delay", method: "POST", path: "/v1/snapshots", body: #"{"delaySeconds": -5}"#,
            status: 400, mentions: "delaySeconds"),
        Case(
            name: "bad tag", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "tag": "a/b"}"#, status: 400, mentions: "tag"),
        Case(
            name: "bad table filter", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "tables": ["orders"]}"#, status: 400, mentions: "tables[0]"),
        Case(
            name: "existing tag", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "tag": "taken"}"#, status: 409, mentions: "taken"),
        Case(
            name: "unknown snapshot id", method: "GET",
            path: "/v1/snapshots/0b7e1b4c-1111-4222-8333-444455556666", status: 404,
            mentions: "0b7e1b4c-1111-4222-8333-444455556666"),
        Case(
            name: "unknown snapshot tag", method: "GET", path: "/v1/snapshots/no-such-tag/sstables",
            status: 404, mentions: "no-such-tag"),
        Case(
            name: "delete unknown snapshot", method: "DELETE", path: "/v1/snapshots/no-such-tag", status: 404,
            mentions: "no-such-tag"),
        Case(
            name: "unknown node filter", method: "GET", path: "/v1/snapshots/taken/sstables?node=ghost",
            status: 404, mentions: "ghost"),
        Case(
            name: "bad instant for live sstables", method: "GET",
            path: "/v1/nodes/node1/sstables?at=yesterday", status: 400, mentions: "at"),
        Case(
            name: "missing instant for live sstables", method: "GET", path: "/v1/nodes/node1/sstables",
            status: 400, mentions: "at"),
        // Numbers and instants that become times (hardening review, items 1 and 2).
        Case(
            name: "deadline beyond Int64 milliseconds", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "deadlineSeconds": 1e16}"#, status: 400, mentions: "deadlineSeconds"),
        Case(
            name: "deadline near Double.max", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "deadlineSeconds": 1e308}"#, status: 400, mentions: "deadlineSeconds"),
        Case(
            name: "deadline in year 33715", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 5, "deadlineSeconds": 1e12}"#, status: 400, mentions: "deadlineSeconds"),
        Case(
            name: "instant in year 9999", method: "POST", path: "/v1/snapshots",
            body: #"{"at": "9999-12-31T23:59:59Z"}"#, status: 400, mentions: "at"),
        Case(
            name: "delay of 1e300 seconds", method: "POST", path: "/v1/snapshots",
            body: #"{"delaySeconds": 1e300}"#, status: 400, mentions: "delaySeconds"),
    ]

    /// Instants in report bodies are checked against the coordinator's clock.
    static let now = InstantFormat.format(Date())
    static let poolKey = "Test Cluster/nodes/\(host)/data/shop/orders/nb-1-big-Data.db"
    static func fileReport(
        keyspace: String = "shop", fileName: String = "nb-1-big-Data.db", key: String = poolKey
    )
        -> String
    {
        #"{"reportID": "x", "items": [{"keyspace": "\#(keyspace)", "table": "orders", "fileName": "\#(fileName)", "size": 1, "sha256": "\#(String(repeating: "a", count: 64))", "objectKey": "\#(key)", "uploadedAt": "\#(now)"}]}"#
    }
    static func heartbeat(at: String) -> String {
        #"{"agentTime": "\#(at)", "queuedFiles": 0, "uploadedFiles": 0, "uploadedBytes": 0}"#
    }

    /// Report fields are checked with the manifest rules (hardening review, item 8).
    static let reportFieldCases: [Case] = [
        Case(
            name: "files keyspace escapes", method: "POST", path: "/v1/agents/\(host)/files",
            body: fileReport(keyspace: "../../etc"), status: 400, mentions: "items[0].keyspace"),
        Case(
            name: "files key escapes", method: "POST", path: "/v1/agents/\(host)/files",
            body: fileReport(key: "../../../etc/passwd"), status: 400, mentions: "items[0].objectKey"),
        Case(
            name: "files key of another node", method: "POST", path: "/v1/agents/\(host)/files",
            body: fileReport(
                key:
                    "Test Cluster/nodes/6f1c2a4e-0000-4000-8000-000000000002/data/shop/orders/nb-1-big-Data.db"
            ),
            status: 400, mentions: "items[0].objectKey"),
        Case(
            name: "files key of another cluster", method: "POST", path: "/v1/agents/\(host)/files",
            body: fileReport(key: "Other/nodes/\(host)/data/shop/orders/nb-1-big-Data.db"), status: 400,
            mentions: "items[0].objectKey"),
        Case(
            name: "files key of another file", method: "POST", path: "/v1/agents/\(host)/files",
            body: fileReport(key: "Test Cluster/nodes/\(host)/data/shop/orders/nb-2-big-Data.db"),
            status: 400,
            mentions: "items[0].objectKey"),
        Case(
            name: "files name with NUL", method: "POST", path: "/v1/agents/\(host)/files",
            body: fileReport(fileName: #"nb-1-big-Data.db\u0000.sh"#), status: 400,
            mentions: "items[0].fileName"),
        Case(
            name: "sstable event name escapes", method: "POST", path: "/v1/agents/\(host)/sstable-events",
            body:
                #"{"reportID": "e", "items": [{"kind": "appeared", "keyspace": "shop", "table": "orders", "sstable": "../../passwd\n", "at": "\#(now)"}]}"#,
            status: 400, mentions: "items[0].sstable"),
        Case(
            name: "heartbeat in year 0", method: "POST", path: "/v1/agents/\(host)/heartbeat",
            body: heartbeat(at: "0000-01-01T00:00:00Z"), status: 400, mentions: "agentTime"),
        Case(
            name: "heartbeat history ending before it begins", method: "POST",
            path: "/v1/agents/\(host)/heartbeat",
            body:
                #"{"agentTime": "\#(now)", "queuedFiles": 0, "uploadedFiles": 0, "uploadedBytes": 0, "liveHistory": {"since": "\#(now)", "through": "2000-01-01T00:00:00Z"}}"#,
            status: 400, mentions: "liveHistory.through"),
        Case(
            name: "hostname with NUL", method: "POST", path: "/v1/agents/register",
            body:
                #"{"hostID": "\#(host)", "hostname": "node1\u0000evil", "cluster": "Test Cluster", "datacenter": "dc1", "rack": "r1", "tokens": ["1"], "cassandraVersion": "4.1.3", "dataDirectories": ["/d"], "agentVersion": "x"}"#,
            status: 400, mentions: "hostname"),
        Case(
            name: "manifest report error with NUL", method: "POST", path: "/v1/agents/\(host)/manifests",
            body:
                #"{"reportID": "m", "items": [{"snapshotID": "0b7e1b4c-1111-4222-8333-444455556666", "tag": "t", "files": 0, "bytes": 0, "error": "a\u0000b"}]}"#,
            status: 400, mentions: "items[0].error"),
    ]

    static let agentCases: [Case] = [
        Case(
            name: "heartbeat malformed", method: "POST", path: "/v1/agents/\(host)/heartbeat", body: "[1,2",
            status: 400, mentions: "JSON"),
        Case(
            name: "heartbeat wrong type", method: "POST", path: "/v1/agents/\(host)/heartbeat",
            body:
                #"{"agentTime": "2026-12-01T00:00:00Z", "queuedFiles": "many", "uploadedFiles": 0, "uploadedBytes": 0}"#,
            status: 400, mentions: "queuedFiles"),
        Case(
            name: "files missing field", method: "POST", path: "/v1/agents/\(host)/files",
            body: #"{"reportID": "x", "items": [{"keyspace": "shop"}]}"#, status: 400, mentions: "items"),
        Case(
            name: "files bad checksum", method: "POST", path: "/v1/agents/\(host)/files",
            body:
                #"{"reportID": "x", "items": [{"keyspace": "k", "table": "t", "fileName": "nb-1-big-Data.db", "size": 1, "sha256": "zz", "objectKey": "k", "uploadedAt": "2026-01-01T00:00:00Z"}]}"#,
            status: 400, mentions: "sha256"),
        Case(
            name: "manifest for unknown snapshot", method: "POST", path: "/v1/agents/\(host)/manifests",
            body:
                #"{"reportID": "m", "items": [{"snapshotID": "0b7e1b4c-1111-4222-8333-444455556666", "tag": "t", "files": 0, "bytes": 0, "manifestKey": "k"}]}"#,
            status: 404, mentions: "0b7e1b4c-1111-4222-8333-444455556666"),
        Case(
            name: "bad host id", method: "POST", path: "/v1/agents/not-a-uuid/heartbeat",
            body:
                #"{"agentTime": "2026-01-01T00:00:00Z", "queuedFiles": 0, "uploadedFiles": 0, "uploadedBytes": 0}"#,
            status: 400, mentions: "not-a-uuid"),
        Case(
            name: "unregistered host", method: "POST",
            path: "/v1/agents/6f1c2a4e-0000-4000-8000-000000000999/heartbeat",
            body:
                #"{"agentTime": "2026-01-01T00:00:00Z", "queuedFiles": 0, "uploadedFiles": 0, "uploadedBytes": 0}"#,
            status: 404, mentions: "register"),
        Case(
            name: "bad wait", method: "GET", path: "/v1/agents/\(host)/commands?wait=forever", status: 400,
            mentions: "wait"),
    ]

    @Test func everyBadRequestGetsAClear4xxAndChangesNothing() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: store)
            try await node.join()
            _ = try await coordinator.admin.createSnapshot(.init(delaySeconds: 600, tag: "taken"))
            let before = try await CatalogView.of(coordinator.catalog)
            let nodesBefore = try await coordinator.catalog.nodes()
            let bucketBefore = try await store.list(prefix: "")

            for c in Self.cases + Self.agentCases + Self.reportFieldCases {
                let token = c.path.hasPrefix("/v1/agents") ? agentToken : adminToken
                let (status, body) = try await coordinator.admin.raw(
                    c.method, c.path, body: c.body.map { Array($0.utf8) }, token: token)
                #expect(status == c.status, "\(c.name): \(status) \(body)")
                let error = try? APICoding.decoder().decode(APIErrorBody.self, from: Data(body.utf8))
                #expect(error != nil, "\(c.name): not an error body: \(body)")
                #expect(error?.error.message.contains(c.mentions) == true, "\(c.name): \(body)")
            }

            #expect(try await CatalogView.of(coordinator.catalog) == before)
            #expect(try await coordinator.catalog.nodes() == nodesBefore)
            #expect(try await store.list(prefix: "").map(\.key) == bucketBefore.map(\.key))
        }
    }

    @Test func missingUnknownAndWrongRoleTokens() async throws {
        try await InProcessCoordinator.with { coordinator, _ in
            let register = Array(
                try APICoding.encoder().encode(
                    try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: InMemoryObjectStore())
                        .registration()))
            let checks: [(String, String, [UInt8]?, String, Int)] = [
                ("GET", "/v1/snapshots", nil, "", 401),
                ("GET", "/v1/snapshots", nil, "wrong", 401),
                ("GET", "/v1/snapshots", nil, adminToken + "x", 401),
                ("GET", "/v1/snapshots", nil, agentToken, 403),
                ("POST", "/v1/catalog/rebuild", nil, agentToken, 403),
                ("POST", "/v1/agents/register", register, adminToken, 403),
                ("POST", "/v1/agents/register", register, "", 401),
                ("GET", "/v1/snapshots", nil, adminToken, 200),
                ("POST", "/v1/agents/register", register, agentToken, 200),
            ]
            for (method, path, body, token, expected) in checks {
                let (status, text) = try await coordinator.admin.raw(method, path, body: body, token: token)
                #expect(
                    status == expected,
                    "\(method) \(path) with \(token.isEmpty ? "no" : "some") token: \(status)")
                // A refusal never echoes a token.
                #expect(!text.contains(adminToken) && !text.contains(agentToken))
            }
            // Only the 200 registration changed anything.
            #expect(try await coordinator.catalog.nodes().count == 1)
        }
    }
}
