import CassnapAPI
import CassnapCore
import Foundation
import GRDB
import Hummingbird
import Metrics
import Prometheus

/// The coordinator's `/metrics`, in the Prometheus text format: swift-metrics instruments with
/// a swift-prometheus registry of this coordinator's own (not the process-global factory, so
/// several coordinators in one test process never share numbers). Counters and the latency
/// histogram are updated as requests come; what the catalog knows (snapshots by status, nodes,
/// schedules) is read at scrape time.
package final class CoordinatorMetrics: Sendable {
    package let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    package init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
            .seconds(5),
            .seconds(10), .seconds(30),
        ]
        self.factory = factory
    }

    /// One answered request: its route (the pattern, never the raw path), method and status.
    func request(route: String, method: String, status: Int, duration: Duration) {
        Metrics.Timer(
            label: "cassnap_http_request_duration_seconds",
            dimensions: [("route", route), ("method", method), ("status", "\(status)")], factory: factory
        ).recordNanoseconds(
            Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds
                / 1_000_000_000)
    }

    /// Reports applied (not duplicates), by kind: files, sstable-events, manifests, node-snapshots.
    func reportsIngested(kind: AgentAPI.ReportKind, count: Int) {
        guard count > 0 else { return }
        Counter(
            label: "cassnap_reports_ingested_total", dimensions: [("kind", kind.rawValue)], factory: factory
        )
        .increment(by: count)
    }

    /// Reads the catalog into gauges, then the whole registry as text.
    func scrape(catalog: any MetricsCatalog, liveNodeSeconds: Double, now: Date) async throws -> [UInt8] {
        for (status, count) in try await catalog.snapshotCounts() {
            registry.makeGauge(name: "cassnap_snapshots", labels: [("status", status)]).set(Double(count))
        }
        let nodes = try await catalog.nodes()
        registry.makeGauge(name: "cassnap_nodes_registered").set(Double(nodes.count))
        let live = nodes.filter {
            ($0.lastHeartbeat.map { now.timeIntervalSince($0) <= liveNodeSeconds }) ?? false
        }
        registry.makeGauge(name: "cassnap_nodes_live").set(Double(live.count))
        for node in nodes {
            let labels = [("host_id", node.hostID.description), ("hostname", node.hostname)]
            registry.makeGauge(name: "cassnap_node_queued_files", labels: labels).set(
                Double(node.queuedFiles))
            if let offset = node.clockOffsetSeconds {
                registry.makeGauge(name: "cassnap_node_clock_offset_seconds", labels: labels).set(offset)
            }
            registry.makeGauge(name: "cassnap_node_oldest_queued_age_seconds", labels: labels).set(
                node.oldestQueuedAge ?? 0)
            if let beat = node.lastHeartbeat {
                registry.makeGauge(name: "cassnap_node_last_heartbeat_timestamp_seconds", labels: labels).set(
                    beat.timeIntervalSince1970)
            }
        }
        for state in try await catalog.schedules() {
            let labels = [("schedule", state.schedule.name.rawValue)]
            registry.makeGauge(name: "cassnap_schedule_last_complete_timestamp_seconds", labels: labels).set(
                state.lastCompleteAt?.timeIntervalSince1970 ?? 0)
            registry.makeGauge(name: "cassnap_schedule_paused", labels: labels).set(
                Double(state.schedule.paused ? 1 : 0))
        }
        return registry.emitToBuffer()
    }
}

/// Times every request into `cassnap_http_request_duration_seconds`, labelled by route
/// pattern, so host IDs and tags in paths do not become label values.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: CoordinatorMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                status: response.status.code, duration: .now - started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status,
                duration: .now - started)
            throw error
        }
    }
}

/// What `/metrics` reads of the catalog: snapshots by status, the nodes and the schedules.
package protocol MetricsCatalog: Sendable {
    /// Cluster snapshots by status, every status present (0 when none).
    func snapshotCounts() async throws -> [(String, Int)]
    func nodes() async throws -> [AdminAPI.Node]
    func schedules() async throws -> [ScheduleState]
}

extension SQLiteCatalog: MetricsCatalog {
    /// Cluster snapshots by status, every status present (0 when none).
    package func snapshotCounts() async throws -> [(String, Int)] {
        let counted = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM snapshots GROUP BY status").reduce(
                into: [String: Int]()
            ) { $0[$1["status"]] = $1["n"] }
        }
        return ClusterSnapshotRecord.Status.allCases.map { ($0.rawValue, counted[$0.rawValue] ?? 0) }
    }
}
