import CassnapAPI
import CassnapCore
import Foundation
import Hummingbird
import Logging

/// The endpoints agents call (agent token): register, heartbeat, long-poll for commands, and
/// the reports. Every report is idempotent by its `reportID`.
struct AgentController<Context: RequestContext> {
    let catalog: any NodeCatalog & ReportCatalog
    let snapshots: SnapshotService
    let keys: ObjectKeys
    let bodies: BodyGate
    let metrics: CoordinatorMetrics
    let logger: Logger
    /// The longest long-poll an agent may ask for, seconds.
    var maximumWait = 60

    func addRoutes(to routes: RouteRegistrar<Context>) {
        routes.on(.post, "/register", use: register)
        routes.on(.post, "/{hostID}/heartbeat", use: heartbeat)
        routes.on(.get, "/{hostID}/commands", use: commands)
        routes.on(.post, "/{hostID}/\(AgentAPI.ReportKind.files.pathSegment)", use: files)
        routes.on(.post, "/{hostID}/\(AgentAPI.ReportKind.sstableEvents.pathSegment)", use: sstableEvents)
        routes.on(.post, "/{hostID}/\(AgentAPI.ReportKind.manifests.pathSegment)", use: manifests)
        routes.on(.post, "/{hostID}/\(AgentAPI.ReportKind.nodeSnapshots.pathSegment)", use: nodeSnapshots)
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.HeartbeatReply
    > {
        let registration = try await decode(AgentAPI.Registration.self, request)
        try validation().check(registration)
        guard registration.cluster == keys.cluster.rawValue else {
            throw APIError.conflict(
                "cluster_mismatch",
                "cluster: this coordinator serves \(keys.cluster.rawValue.debugDescription), not \(registration.cluster.debugDescription)"
            )
        }
        try await catalog.register(registration, at: Date())
        logger.info(
            "Agent registered",
            metadata: ["node.host_id": "\(registration.hostID)", "node.hostname": "\(registration.hostname)"])
        return JSONReply(AgentAPI.HeartbeatReply(coordinatorTime: Date()))
    }

    @Sendable func heartbeat(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.HeartbeatReply
    > {
        let host = try hostID(context)
        let beat = try await decode(AgentAPI.Heartbeat.self, request)
        try validation().check(beat)
        guard try await catalog.heartbeat(host, beat, at: Date()) else { throw notRegistered(host) }
        return JSONReply(AgentAPI.HeartbeatReply(coordinatorTime: Date()))
    }

    /// Answers at once when commands are due, otherwise waits up to `wait` seconds for one.
    @Sendable func commands(_ request: Request, context: Context) async throws -> JSONReply<
        [AgentAPI.Command]
    > {
        let host = try hostID(context)
        var wait = 0
        if let text = request.uri.queryParameters["wait"] {
            guard let value = Int(text), value >= 0 else {
                throw APIError.invalidField(
                    "wait", "\(String(text).debugDescription) is not a whole number of seconds")
            }
            wait = min(value, maximumWait)
        }
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        let end = ContinuousClock.now + .seconds(wait)
        while true {
            // Noted before looking, so a command queued while we look rings a later generation.
            let generation = snapshots.signal.generation
            let due = try await catalog.commands(for: host)
            if !due.isEmpty { return JSONReply(due) }
            if ContinuousClock.now >= end || Task.isCancelled { return JSONReply([]) }
            await snapshots.signal.wait(past: generation, until: end)
        }
    }

    @Sendable func files(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await decode(AgentAPI.Batch<AgentAPI.FileReport>.self, request)
        try validation().check(batch, host: host)
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return ingested(.files, try await catalog.recordFiles(host, batch, at: Date()))
    }

    @Sendable func sstableEvents(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await decode(AgentAPI.Batch<AgentAPI.SSTableEvent>.self, request)
        try validation().check(batch)
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return ingested(.sstableEvents, try await catalog.recordSSTableEvents(host, batch, at: Date()))
    }

    @Sendable func manifests(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await decode(AgentAPI.Batch<AgentAPI.ManifestReport>.self, request)
        try validation().check(batch)
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return ingested(.manifests, try await snapshots.receiveManifests(host, batch, now: Date()))
    }

    @Sendable func nodeSnapshots(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await decode(AgentAPI.Batch<AgentAPI.NodeSnapshotReport>.self, request)
        try validation().check(batch)
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return ingested(.nodeSnapshots, try await snapshots.receiveNodeSnapshots(host, batch, now: Date()))
    }

    /// Counts what a report applied (a resent one applies nothing) into `/metrics`.
    private func ingested(_ kind: AgentAPI.ReportKind, _ receipt: AgentAPI.ReportReceipt) -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        if !receipt.duplicate { metrics.reportsIngested(kind: kind, count: receipt.accepted) }
        return JSONReply(receipt)
    }

    private func hostID(_ context: Context) throws -> HostID {
        let text = context.parameters.get("hostID") ?? ""
        do { return try HostID(text) } catch { throw APIError.invalidField("hostID", error.description) }
    }

    private func decode<T: Decodable & Sendable>(_ type: T.Type, _ request: Request) async throws -> T {
        try await request.decodeJSON(type, limit: BodyLimit.agentReport, gate: bodies)
    }

    private func validation() -> ReportValidation { ReportValidation(keys: keys, now: Date()) }

    private func notRegistered(_ host: HostID) -> APIError {
        APIError(.notFound, code: "not_registered", message: "node \(host) is not registered; register first")
    }
}
