import CassnapAPI
import CassnapClient
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import GRDB
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One request must never crash or poison the coordinator (issue 9): each test reproduces one
/// finding of the hardening review and fails without its fix.
@Suite("Hardening")
struct HardeningTests {
    // MARK: Items 1 and 2: times from input

    @Test func instantsOutsideTheFormatsRangeAreClampedNotTrapped() {
        for seconds in [1e16, 1e308, -1e308, .infinity, -.infinity, .nan] {
            let text = InstantFormat.format(Date(timeIntervalSince1970: seconds))
            #expect(InstantFormat.parse(text) != nil, "\(seconds) formatted as \(text)")
        }
        #expect(InstantFormat.format(Date(timeIntervalSince1970: 1e16)) == "9999-12-31T23:59:59.999Z")
        #expect(InstantFormat.format(Date(timeIntervalSince1970: -1e16)) == "0001-01-01T00:00:00.000Z")
    }

    /// A command row that cannot be decoded (as a year-33715 deadline once was) is skipped:
    /// the node still gets its other commands, and the listings still answer.
    @Test func anUnreadableQueuedCommandBreaksNeitherPollingNorListings() async throws {
        try await TemporaryDirectory.with { dir in
            let store = InMemoryObjectStore()
            let config = configuration(directory: dir)
            let coordinator = try await InProcessCoordinator.start(config, store: store)
            do {
                let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: store)
                try await node.join()
                let poisoned = try await coordinator.admin.createSnapshot(
                    .init(delaySeconds: 600, tag: "poisoned"))
                _ = try await coordinator.admin.createSnapshot(.init(delaySeconds: 600, tag: "fine"))
                let database = try DatabaseQueue(path: config.database)
                try await database.write { db in
                    try db.execute(
                        sql: "UPDATE commands SET payload = ? WHERE id LIKE ?",
                        arguments: [
                            #"{"id": "x", "snapshot": {"at": "33715-01-01T00:00:00.000Z"}}"#,
                            "\(poisoned.summary.id)%",
                        ])
                }
                let due = try await node.client.commands(node.host, wait: 0)
                #expect(due.map(\.snapshot?.tag.rawValue) == ["fine"])
                #expect(try await coordinator.admin.snapshotsPage().items.count == 2)
            } catch {
                await coordinator.stop()
                throw error
            }
            await coordinator.stop()
        }
    }

    /// `catalog rebuild` says which records it could not read instead of dropping them quietly.
    @Test func rebuildNamesTheRecordsItSkipped() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let key = "Test Cluster/snapshots/broken.json"
            _ = try await store.put(key: key, source: .string(#"{"deadline": "10000-01-01T00:00:00Z"}"#))
            let result = try await coordinator.admin.rebuildCatalog()
            #expect(result.skipped.map(\.key) == [key])
        }
    }

    // MARK: Item 3: server errors are warnings

    @Test func aServerErrorIsLoggedAtWarning() async throws {
        let log = CapturedLog()
        try await TemporaryDirectory.with { dir in
            let store = UnavailableHeadStore()
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let built = try buildApplication(
                configuration: configuration(directory: dir), store: store, logger: log.logger(),
                onListening: { continuation.yield($0) })
            let task = Task { try await built.run() }
            defer { task.cancel() }
            let port = try #require(await ports.first(where: { _ in true }))
            let node = try SimulatedNode(index: 1, baseURL: "http://127.0.0.1:\(port)", store: store.inner)
            try await node.join()
            _ = try await CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: adminToken)
                .createSnapshot(.init(delaySeconds: 0.2))
            let command = try await node.nextCommand()
            let report = try await node.writeManifest(try await node.uploadSnapshot(command), for: command)
            let (status, _) = try await node.client.raw(
                "POST", "/v1/agents/\(node.host)/manifests",
                body: Array(try APICoding.encoder().encode(AgentAPI.Batch(reportID: "m", items: [report]))))
            #expect(status == 503)
            #expect(
                log.records.contains {
                    $0.level == .warning && $0.message == "Request failed on the server"
                        && $0.metadata["http.status"] == "503"
                })
        }
    }

    // MARK: Item 5: bodies

    @Test func oversizedBodiesAndBatchesAreRefused() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: store)
            try await node.join()
            let big = Array(repeating: UInt8(ascii: " "), count: BodyLimit.agentReport + 1)
            let (status, body) = try await node.client.raw("POST", "/v1/agents/\(node.host)/files", body: big)
            #expect(status == 413, "\(body)")

            let item = AgentAPI.FileReport(
                keyspace: "shop", table: "orders", tableID: nil, indexName: nil, fileName: "nb-1-big-Data.db",
                size: 1, sha256: String(repeating: "a", count: 64),
                objectKey: "Test Cluster/nodes/\(node.host)/data/shop/orders/nb-1-big-Data.db",
                uploadedAt: Date())
            let many = AgentAPI.Batch(
                reportID: "many", items: Array(repeating: item, count: BodyLimit.batchItems + 1))
            let (manyStatus, manyBody) = try await node.client.raw(
                "POST", "/v1/agents/\(node.host)/files", body: Array(try APICoding.encoder().encode(many)))
            #expect(manyStatus == 400 && manyBody.contains("items"), "\(manyBody)")

            // Parallel oversized bodies all get their answer; none is held forever.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await node.client.raw("POST", "/v1/agents/\(node.host)/files", body: big).status
                    }
                }
                for try await status in group { #expect(status == 413) }
            }
        }
    }

    @Test func aManifestOverTheLimitFailsTheNodeWithoutBeingRead() async throws {
        try await TemporaryDirectory.with { dir in
            let store = InMemoryObjectStore()
            var config = configuration(directory: dir)
            config.snapshots.maximumManifestBytes = 4096
            let coordinator = try await InProcessCoordinator.start(config, store: store)
            do {
                let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: store)
                try await node.join()
                let created = try await coordinator.admin.createSnapshot(.init(delaySeconds: 0.2))
                let command = try await node.nextCommand()
                var manifest = try await node.uploadSnapshot(command)
                manifest.node.hostname = String(repeating: "n", count: 8192)
                let report = try await node.writeManifest(manifest, for: command)
                _ = try await node.client.reportManifests(node.host, .init(reportID: "m", items: [report]))
                let detail = try await coordinator.admin.snapshot(created.summary.id.description)
                #expect(detail.nodes.first?.error?.contains("max_manifest_bytes") == true, "\(detail.nodes)")
            } catch {
                await coordinator.stop()
                throw error
            }
            await coordinator.stop()
        }
    }

    // MARK: Item 6: file modes

    @Test func theCatalogIsReadableByItsOwnerOnly() async throws {
        let old = umask(0o022)
        defer { umask(old) }
        try await TemporaryDirectory.with { dir in
            let config = configuration(directory: dir)
            let coordinator = try await InProcessCoordinator.start(config, store: InMemoryObjectStore())
            let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: InMemoryObjectStore())
            try await node.join()
            await coordinator.stop()
            for path in [config.database, config.database + "-wal"] {
                var st = stat()
                guard stat(path, &st) == 0 else { continue }
                #expect(
                    st.st_mode & 0o777 == 0o600, "\(path) has mode \(String(st.st_mode & 0o777, radix: 8))")
            }
        }
    }

    // MARK: Item 7: unsafe start-up

    /// Beyond loopback without TLS is refused since issue 11 (TLSTests); told
    /// `allow_plain_http`, it starts and warns.
    @Test func listeningBeyondLoopbackWithPlainHTTPIsRefusedOrWarns() throws {
        try TemporaryDirectory.with { dir in
            for (listen, warns) in [("0.0.0.0:0", true), (":0", true), ("127.0.0.1:0", false)] {
                let log = CapturedLog()
                var config = configuration(directory: dir)
                config.listen = listen
                if warns {
                    let refused = #expect(throws: ConfigurationError.self, "\(listen)") {
                        _ = try buildApplication(configuration: config, store: InMemoryObjectStore())
                    }
                    #expect(refused?.field == "listen")
                    config.allowPlainHTTP = true
                }
                _ = try buildApplication(
                    configuration: config, store: InMemoryObjectStore(), logger: log.logger())
                #expect(
                    log.records.contains { $0.level == .warning && $0.message.contains("PLAIN HTTP") }
                        == warns,
                    "\(listen)")
            }
        }
    }

    // MARK: Item 9: pool reports do not vouch for objects

    @Test func aReportedPoolObjectMissingFromTheBucketFailsTheNode() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: store)
            try await node.join()
            let created = try await coordinator.admin.createSnapshot(.init(delaySeconds: 0.2))
            let command = try await node.nextCommand()
            // Reported to the pool with the right size and checksum, then gone from the bucket.
            let manifest = try await node.uploadSnapshot(command, reportFiles: true)
            let gone = manifest.tables[1].sstables[1].files[2].objectKey
            try await store.delete(key: gone)
            let report = try await node.writeManifest(manifest, for: command)
            _ = try await node.client.reportManifests(node.host, .init(reportID: "m", items: [report]))
            let detail = try await coordinator.admin.snapshot(created.summary.id.description)
            #expect(detail.nodes.first?.error?.contains(gone) == true, "\(detail.nodes)")
        }
    }

    // MARK: Item 10: idle and header timeouts

    @Test func idleAndTricklingConnectionsAreClosedButLongPollsFit() async throws {
        try await TemporaryDirectory.with { dir in
            let store = InMemoryObjectStore()
            var config = configuration(directory: dir)
            config.idleTimeoutSeconds = 1
            let coordinator = try await InProcessCoordinator.start(config, store: store)
            do {
                let idle = try RawConnection(port: coordinator.port)
                let trickling = try RawConnection(port: coordinator.port)
                let start = Date()
                var idleClosed: Date?
                var tricklingClosed: Date?
                let head = Array("GET /v1/nodes HTTP/1.1\r\nHost: x\r\n".utf8)
                var sent = 0
                // Bounded: at most 300 steps and 30 s; alone, both close after about 1 s.
                for _ in 0..<300 where (idleClosed == nil || tricklingClosed == nil) && Date() < start + 30 {
                    if tricklingClosed == nil, sent < head.count {
                        trickling.send([head[sent]])
                        sent += 1
                    }
                    if idleClosed == nil, idle.isClosed() { idleClosed = Date() }
                    if tricklingClosed == nil, trickling.isClosed() { tricklingClosed = Date() }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(idleClosed != nil, "an idle connection stayed open")
                #expect(tricklingClosed != nil, "a connection trickling its head stayed open")

                // A long-poll three times the idle timeout is answered, not cut.
                let node = try SimulatedNode(index: 1, baseURL: coordinator.baseURL, store: store)
                try await node.join()
                let began = Date()
                #expect(try await node.client.commands(node.host, wait: 3).isEmpty)
                #expect(Date().timeIntervalSince(began) >= 2.5)
            } catch {
                await coordinator.stop()
                throw error
            }
            await coordinator.stop()
        }
    }

    // MARK: Item 12: large writes in chunks

    /// A crash between two chunks loses nothing and applies nothing twice: the resent report
    /// continues after the last committed chunk.
    @Test func aReportInterruptedBetweenChunksResumesExactlyOnce() async throws {
        struct Crash: Error {}
        let crashAfter = LockedValue<Int?>(2)
        let catalog = try SQLiteCatalog(
            cluster: ClusterName(clusterName), reportChunk: 3,
            afterChunk: { chunks in if chunks == crashAfter.value { throw Crash() } })
        let node = try SimulatedNode(index: 1, baseURL: "http://127.0.0.1:1", store: InMemoryObjectStore())
        try await catalog.register(node.registration(), at: Date())
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let events = (0..<10).map { i in
            AgentAPI.SSTableEvent(
                kind: .appeared, keyspace: "shop", table: "orders", tableID: nil, sstable: "nb-\(i + 1)-big",
                at: t0.addingTimeInterval(Double(i)))
        }
        let batch = AgentAPI.Batch(reportID: "events-1", items: events)
        await #expect(throws: Crash.self) {
            try await catalog.recordSSTableEvents(node.host, batch, at: Date())
        }
        #expect(try await catalog.isReportProcessed("events-1") == false)
        #expect(try await catalog.liveSSTables(node.host, at: t0.addingTimeInterval(100)).count == 6)

        crashAfter.value = nil
        let resent = try await catalog.recordSSTableEvents(node.host, batch, at: Date())
        #expect(resent.accepted == 4 && resent.duplicate == false)
        let live = try await catalog.liveSSTables(node.host, at: t0.addingTimeInterval(100))
        #expect(live.map(\.sstable).sorted() == events.map(\.sstable).sorted())
        #expect(try await catalog.recordSSTableEvents(node.host, batch, at: Date()).duplicate == true)
    }
}

/// A store whose HEAD always answers "unavailable", for the 503 path.
final class UnavailableHeadStore: ObjectStore, Sendable {
    let inner = InMemoryObjectStore()
    var displayName: String { "unavailable-head://" }
    func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try await inner.put(key: key, source: source, options: options)
    }
    func head(key: String) async throws -> ObjectInfo {
        throw ObjectStoreError.transient(store: displayName, detail: "injected 503")
    }
    func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try await inner.get(key: key, to: localPath)
    }
    func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try await inner.read(key: key, into: target)
    }
    func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
    func delete(key: String) async throws { try await inner.delete(key: key) }
    func delete(keys: [String]) async throws { try await inner.delete(keys: keys) }
}

final class LockedValue<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// A plain TCP connection to the coordinator, for what an HTTP client would never send.
final class RawConnection {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, connected == 0 else { throw TimedOut(what: "a connection to port \(port)") }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// True once the server closed its side (a read answers end of file or a reset).
    func isClosed() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }
}
