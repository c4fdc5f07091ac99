import CassnapAPI
import CassnapCore
import CassnapHTTP
import Foundation

/// Why a call to the coordinator failed, classified so callers know how to react.
package enum CoordinatorClientError: Error, CustomStringConvertible, Sendable {
    /// The coordinator answered with an error body (4xx/5xx).
    case api(status: Int, code: String, message: String)
    /// No answer: connection refused, DNS, timeout.
    case unreachable(url: String, detail: String)
    /// An answer that is not what the API promises.
    case invalidResponse(status: Int, detail: String)

    package var status: Int? {
        switch self {
        case .api(let status, _, _), .invalidResponse(let status, _): status
        case .unreachable: nil
        }
    }

    package var isNotFound: Bool { status == 404 }
    package var isUnauthorized: Bool { status == 401 || status == 403 }
    package var isUnreachable: Bool {
        if case .unreachable = self { return true }
        return false
    }
    /// Worth sending again later (agents keep such reports in their outbox).
    package var isRetryable: Bool { isUnreachable || (status.map { $0 >= 500 || $0 == 429 } ?? false) }

    package var description: String {
        switch self {
        case .api(let status, let code, let message):
            "coordinator refused the request (\(status) \(code)): \(message)"
        case .unreachable(let url, let detail): "coordinator at \(url) unreachable: \(detail)"
        case .invalidResponse(let status, let detail):
            "unexpected answer from the coordinator (\(status)): \(detail)"
        }
    }
}

/// The coordinator's HTTP API as Swift calls, over libcurl. Used by the CLI, by tests that
/// play agents, and by anything else that talks to a coordinator. Paths: coordinator/openapi.yaml.
package struct CoordinatorClient: Sendable {
    package let baseURL: String
    private let token: String
    private let http: CurlHTTPClient

    /// `caFile`: the PEM bundle that signed an HTTPS coordinator's certificate, when it is not
    /// in the system's trust store (a private CA).
    package init(baseURL: String, token: String, caFile: String?) {
        var configuration = HTTPClientConfiguration()
        configuration.caBundlePath = caFile
        self.init(baseURL: baseURL, token: token, http: CurlHTTPClient(configuration: configuration))
    }

    package init(baseURL: String, token: String, http: CurlHTTPClient = CurlHTTPClient()) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
        self.http = http
    }

    // MARK: Admin

    package func createSnapshot(_ request: AdminAPI.CreateSnapshot) async throws -> AdminAPI.SnapshotDetail {
        try await call("POST", "/v1/snapshots", body: request)
    }

    /// One page of snapshots, oldest first; pass the page's `next` as `after` for the following one.
    package func snapshotsPage(after: String? = nil, limit: Int? = nil) async throws
        -> AdminAPI.Page<AdminAPI.SnapshotSummary>
    {
        try await call("GET", "/v1/snapshots", query: [("limit", limit.map(String.init)), ("after", after)])
    }

    /// Every snapshot, oldest first, fetched page by page.
    package func listSnapshots() async throws -> [AdminAPI.SnapshotSummary] {
        try await collect { try await snapshotsPage(after: $0) }
    }

    /// `ref` is a snapshot id or tag.
    package func snapshot(_ ref: String) async throws -> AdminAPI.SnapshotDetail {
        try await call("GET", "/v1/snapshots/\(Self.escape(ref))")
    }

    /// One page of the SSTables that form a snapshot, ordered by node, keyspace, table, SSTable.
    /// `limit` counts SSTables (server default 5,000, at most 50,000); pass the page's `next` as
    /// `after` for the following page, with the same filters.
    package func snapshotSSTablesPage(
        _ ref: String, node: String? = nil, keyspace: String? = nil, table: String? = nil,
        after: String? = nil, limit: Int? = nil
    ) async throws -> AdminAPI.Page<AdminAPI.SnapshotSSTable> {
        try await call(
            "GET", "/v1/snapshots/\(Self.escape(ref))/sstables",
            query: [
                ("node", node), ("keyspace", keyspace), ("table", table), ("limit", limit.map(String.init)),
                ("after", after),
            ])
    }

    /// Every page of a snapshot's SSTables, one after the other, as they arrive: memory holds
    /// one page at a time. The stream ends after the last page or with the first error; the next
    /// page is requested only when the consumer asks for it.
    package func snapshotSSTablePages(
        _ ref: String, node: String? = nil, keyspace: String? = nil, table: String? = nil, limit: Int? = nil
    ) -> AsyncThrowingStream<AdminAPI.Page<AdminAPI.SnapshotSSTable>, any Error> {
        pages { after in
            try await snapshotSSTablesPage(
                ref, node: node, keyspace: keyspace, table: table, after: after, limit: limit)
        }
    }

    /// Every SSTable of a snapshot in one array: fine for small sets, see `snapshotSSTablePages`.
    package func snapshotSSTables(
        _ ref: String, node: String? = nil, keyspace: String? = nil, table: String? = nil
    ) async throws -> [AdminAPI.SnapshotSSTable] {
        try await collect { after in
            try await snapshotSSTablesPage(ref, node: node, keyspace: keyspace, table: table, after: after)
        }
    }

    package func deleteSnapshot(_ ref: String) async throws -> AdminAPI.SnapshotSummary {
        try await call("DELETE", "/v1/snapshots/\(Self.escape(ref))")
    }

    package func nodes() async throws -> [AdminAPI.Node] {
        try await call("GET", "/v1/nodes")
    }

    /// One page of the SSTables live on `node` (host ID or hostname) at `at`.
    package func liveSSTablesPage(node: String, at: Date, after: String? = nil, limit: Int? = nil)
        async throws -> AdminAPI.Page<AdminAPI.LiveSSTable>
    {
        try await call(
            "GET", "/v1/nodes/\(Self.escape(node))/sstables",
            query: [("at", InstantFormat.format(at)), ("limit", limit.map(String.init)), ("after", after)])
    }

    /// Every SSTable live on `node` at `at`, fetched page by page.
    package func liveSSTables(node: String, at: Date) async throws -> [AdminAPI.LiveSSTable] {
        try await collect { try await liveSSTablesPage(node: node, at: at, after: $0) }
    }

    /// What was live on `node` at `at`, as a node manifest (for `restore --at`).
    package func pointInTime(node: String, at: Date) async throws -> AdminAPI.PointInTime {
        try await call(
            "GET", "/v1/nodes/\(Self.escape(node))/point-in-time", query: [("at", InstantFormat.format(at))])
    }

    package func createSchedule(_ request: AdminAPI.CreateSchedule) async throws -> AdminAPI.ScheduleInfo {
        try await call("POST", "/v1/schedules", body: request)
    }

    package func schedules() async throws -> [AdminAPI.ScheduleInfo] {
        try await call("GET", "/v1/schedules")
    }

    package func schedule(_ name: String) async throws -> AdminAPI.ScheduleInfo {
        try await call("GET", "/v1/schedules/\(Self.escape(name))")
    }

    /// `pause` or `resume`.
    package func setSchedule(_ name: String, paused: Bool) async throws -> AdminAPI.ScheduleInfo {
        try await call(
            "POST", "/v1/schedules/\(Self.escape(name))/\(paused ? "pause" : "resume")",
            body: [String: String]())
    }

    package func deleteSchedule(_ name: String) async throws -> AdminAPI.ScheduleInfo {
        try await call("DELETE", "/v1/schedules/\(Self.escape(name))")
    }

    package func rebuildCatalog() async throws -> AdminAPI.RebuildResult {
        try await call("POST", "/v1/catalog/rebuild", body: Empty())
    }

    package func repositoryInfo() async throws -> AdminAPI.RepositoryInfo {
        try await call("GET", "/v1/repository")
    }

    // MARK: Agent

    package func register(_ registration: AgentAPI.Registration) async throws -> AgentAPI.HeartbeatReply {
        try await call("POST", "/v1/agents/register", body: registration)
    }

    package func heartbeat(_ host: HostID, _ heartbeat: AgentAPI.Heartbeat) async throws
        -> AgentAPI.HeartbeatReply
    {
        try await call(
            "POST", "/v1/agents/\(host)/heartbeat", body: heartbeat, timeout: Self.heartbeatTimeout)
    }

    /// A heartbeat that has no answer by then counts as failed: a node cut off from the
    /// coordinator says so in its log within seconds, while its TCP connection would wait longer.
    package static let heartbeatTimeout: Duration = .seconds(10)

    /// Long-polls: answers as soon as a command is waiting, or empty after `wait` seconds.
    /// Commands are delivered again until the node reports the snapshot; act on each id once.
    package func commands(_ host: HostID, wait: Int = 25) async throws -> [AgentAPI.Command] {
        try await call(
            "GET", "/v1/agents/\(host)/commands", query: [("wait", String(wait))],
            timeout: .seconds(wait + 10))
    }

    package func reportFiles(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.FileReport>) async throws
        -> AgentAPI.ReportReceipt
    {
        try await report(.files, host, batch)
    }

    package func reportSSTableEvents(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.SSTableEvent>)
        async throws -> AgentAPI.ReportReceipt
    {
        try await report(.sstableEvents, host, batch)
    }

    package func reportManifests(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.ManifestReport>)
        async throws
        -> AgentAPI.ReportReceipt
    {
        try await report(.manifests, host, batch)
    }

    package func reportNodeSnapshots(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.NodeSnapshotReport>)
        async throws -> AgentAPI.ReportReceipt
    {
        try await report(.nodeSnapshots, host, batch)
    }

    /// `GET /v1/node-snapshots[?node=N]`: snapshots taken outside cassnap, newest first.
    package func nodeSnapshots(node: String? = nil) async throws -> [AdminAPI.OperatorSnapshot] {
        try await call("GET", "/v1/node-snapshots", query: [("node", node)])
    }

    private func report<Item: Codable & Sendable & Hashable>(
        _ kind: AgentAPI.ReportKind, _ host: HostID, _ batch: AgentAPI.Batch<Item>
    ) async throws -> AgentAPI.ReportReceipt {
        try await call("POST", "/v1/agents/\(host)/\(kind.pathSegment)", body: batch)
    }

    // MARK: Paging

    /// Pages fetched lazily, one request per element the consumer takes.
    private func pages<Item: Codable & Sendable & Hashable>(
        _ fetch: @escaping @Sendable (String?) async throws -> AdminAPI.Page<Item>
    ) -> AsyncThrowingStream<AdminAPI.Page<Item>, any Error> {
        let state = PageState()
        return AsyncThrowingStream(unfolding: {
            guard !state.finished else { return nil }
            let page = try await fetch(state.after)
            state.after = page.next
            state.finished = page.next == nil
            return page
        })
    }

    private func collect<Item: Codable & Sendable & Hashable>(
        _ fetch: (String?) async throws -> AdminAPI.Page<Item>
    ) async throws -> [Item] {
        try await allPages { (after: String?) in
            let page = try await fetch(after)
            return (page.items, page.next)
        }
    }

    // MARK: Transport

    private struct Empty: Codable {}

    /// The position of a page stream; AsyncThrowingStream(unfolding:) calls its closure serially.
    private final class PageState: @unchecked Sendable {
        var after: String?
        var finished = false
    }

    /// Sends raw bytes and returns status and body: for tests that send malformed input.
    package func raw(
        _ method: String, _ path: String, body: [UInt8]? = nil, token overrideToken: String? = nil
    ) async throws -> (status: Int, body: String) {
        let response = try await perform(method, path, body: body, token: overrideToken ?? token)
        return (response.status, response.bodyText)
    }

    private func call<Reply: Decodable>(
        _ method: String, _ path: String, query: [(String, String?)] = [], timeout: Duration? = nil
    ) async throws -> Reply {
        try await decode(
            try await perform(
                method, path + Self.queryString(query), body: nil, token: token, timeout: timeout))
    }

    private func call<Body: Encodable, Reply: Decodable>(
        _ method: String, _ path: String, body: Body, query: [(String, String?)] = [],
        timeout: Duration? = nil
    ) async throws -> Reply {
        let bytes = Array(try APICoding.encoder().encode(body))
        return try decode(
            try await perform(
                method, path + Self.queryString(query), body: bytes, token: token, timeout: timeout))
    }

    private func perform(
        _ method: String, _ path: String, body: [UInt8]?, token: String, timeout: Duration? = nil
    ) async throws -> HTTPResponse {
        var headers: [(name: String, value: String)] = [
            ("Authorization", "Bearer \(token)"), ("Accept", "application/json"),
        ]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        var request = HTTPRequest(
            method: method, url: baseURL + path, headers: headers, body: body.map { .bytes($0) } ?? .none,
            sink: .memory(limit: 1 << 30))
        request.timeout = timeout
        do {
            return try await http.perform(request)
        } catch let error as HTTPError {
            throw CoordinatorClientError.unreachable(url: baseURL, detail: error.description)
        }
    }

    private func decode<Reply: Decodable>(_ response: HTTPResponse) throws -> Reply {
        guard (200..<300).contains(response.status) else {
            if let body = try? APICoding.decoder().decode(APIErrorBody.self, from: Data(response.body)) {
                throw CoordinatorClientError.api(
                    status: response.status, code: body.error.code, message: body.error.message)
            }
            throw CoordinatorClientError.invalidResponse(
                status: response.status, detail: String(response.bodyText.prefix(200)))
        }
        do {
            return try APICoding.decoder().decode(Reply.self, from: Data(response.body))
        } catch {
            throw CoordinatorClientError.invalidResponse(
                status: response.status, detail: "cannot decode \(Reply.self): \(error)")
        }
    }

    private static func queryString(_ items: [(String, String?)]) -> String {
        let present = items.compactMap { name, value in value.map { "\(name)=\(escape($0))" } }
        return present.isEmpty ? "" : "?" + present.joined(separator: "&")
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    package static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
