import CassnapAPI
import CassnapCore
import Foundation
import Hummingbird
import Logging

/// The endpoints agents call (agent token): register, heartbeat, long-poll for commands, and
/// the reports. Every report is idempotent by its `reportID`.
struct AgentController<Context: RequestContext> {
    let catalog: any Catalog
    let snapshots: SnapshotService
    let cluster: ClusterName
    let logger: Logger
    /// The longest long-poll an agent may ask for, seconds.
    var maximumWait = 60

    func addRoutes(to routes: RouteRegistrar<Context>) {
        routes.on(.post, "/register", use: register)
        routes.on(.post, "/{hostID}/heartbeat", use: heartbeat)
        routes.on(.get, "/{hostID}/commands", use: commands)
        routes.on(.post, "/{hostID}/files", use: files)
        routes.on(.post, "/{hostID}/sstable-events", use: sstableEvents)
        routes.on(.post, "/{hostID}/manifests", use: manifests)
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.HeartbeatReply
    > {
        let registration = try await request.decodeJSON(AgentAPI.Registration.self)
        guard registration.cluster == cluster.rawValue else {
            throw APIError.conflict(
                "cluster_mismatch",
                "cluster: this coordinator serves \(cluster.rawValue.debugDescription), not \(registration.cluster.debugDescription)"
            )
        }
        try await catalog.register(registration, at: Date())
        logger.info(
            "agent registered",
            metadata: ["node.host_id": "\(registration.hostID)", "node.hostname": "\(registration.hostname)"])
        return JSONReply(AgentAPI.HeartbeatReply(coordinatorTime: Date()))
    }

    @Sendable func heartbeat(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.HeartbeatReply
    > {
        let host = try hostID(context)
        let beat = try await request.decodeJSON(AgentAPI.Heartbeat.self)
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
        let end = Date().addingTimeInterval(Double(wait))
        var checked = -1
        while true {
            let generation = snapshots.signal.generation
            if generation != checked {
                checked = generation
                let due = try await catalog.commands(for: host)
                if !due.isEmpty { return JSONReply(due) }
            }
            if Date() >= end || Task.isCancelled { return JSONReply([]) }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    @Sendable func files(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await request.decodeJSON(AgentAPI.Batch<AgentAPI.FileReport>.self)
        try validate(batch.reportID)
        for (i, file) in batch.items.enumerated() {
            guard (try? SHA256Digest(hex: file.sha256)) != nil else {
                throw APIError.invalidField(
                    "items[\(i)].sha256", "\(file.sha256.debugDescription) is not 64 lowercase hex digits")
            }
            guard file.size >= 0 else {
                throw APIError.invalidField("items[\(i)].size", "must not be negative")
            }
        }
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return JSONReply(try await catalog.recordFiles(host, batch, at: Date()))
    }

    @Sendable func sstableEvents(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await request.decodeJSON(AgentAPI.Batch<AgentAPI.SSTableEvent>.self)
        try validate(batch.reportID)
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return JSONReply(try await catalog.recordSSTableEvents(host, batch, at: Date()))
    }

    @Sendable func manifests(_ request: Request, context: Context) async throws -> JSONReply<
        AgentAPI.ReportReceipt
    > {
        let host = try hostID(context)
        let batch = try await request.decodeJSON(AgentAPI.Batch<AgentAPI.ManifestReport>.self)
        try validate(batch.reportID)
        guard try await catalog.isRegistered(host) else { throw notRegistered(host) }
        return JSONReply(try await snapshots.receiveManifests(host, batch, now: Date()))
    }

    private func hostID(_ context: Context) throws -> HostID {
        let text = context.parameters.get("hostID") ?? ""
        do { return try HostID(text) } catch { throw APIError.invalidField("hostID", error.description) }
    }

    private func validate(_ reportID: String) throws {
        guard !reportID.isEmpty, reportID.utf8.count <= 200 else {
            throw APIError.invalidField("reportID", "must be 1 to 200 characters")
        }
    }

    private func notRegistered(_ host: HostID) -> APIError {
        APIError(.notFound, code: "not_registered", message: "node \(host) is not registered; register first")
    }
}
