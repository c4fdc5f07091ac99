import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The agent's metrics, for node_exporter's textfile collector: every 15 s (and when it stops)
/// the agent writes `metricsTextfile` atomically (a temporary file in the same directory, then
/// rename), and node_exporter serves it with the host's own metrics. No listener, no port to
/// open or protect on every Cassandra node, and no library: a dozen unlabelled samples in the
/// text format are three lines each, written here (see the README for what each path costs).
package final class AgentMetrics: Sendable {
    let reconciles = Atomic<Int>(0)
    let lostObjects = Atomic<Int>(0)
    let forgottenPaths = Atomic<Int>(0)

    package init() {}

    package struct Sample: Sendable {
        package enum Kind: String, Sendable { case counter, gauge }
        package var name: String
        package var kind: Kind
        package var help: String
        package var value: Double
    }

    /// The Prometheus text format (0.0.4) of `samples`.
    package static func text(_ samples: [Sample]) -> String {
        var out = ""
        for s in samples {
            out += "# HELP \(s.name) \(s.help)\n# TYPE \(s.name) \(s.kind.rawValue)\n"
            let value =
                s.value.rounded() == s.value && abs(s.value) < 1e15 ? String(Int64(s.value)) : "\(s.value)"
            out += "\(s.name) \(value)\n"
        }
        return out
    }
}

extension Agent {
    /// What the agent did and has waiting, as samples.
    package func metricSamples(watches: Int) async -> [AgentMetrics.Sample] {
        let s = shipper.stats
        let counts = (try? await state.statusCounts()) ?? [:]
        let oldest = (try? await state.oldestPendingSince()) ?? nil
        let lastUpload = Double(s.lastUploadMilliseconds.load(ordering: .relaxed)) / 1000
        let history = await ingestor.liveHistory.interval
        func c(_ name: String, _ help: String, _ value: Int) -> AgentMetrics.Sample {
            .init(name: "cassnap_agent_" + name, kind: .counter, help: help, value: Double(value))
        }
        func g(_ name: String, _ help: String, _ value: Double) -> AgentMetrics.Sample {
            .init(name: "cassnap_agent_" + name, kind: .gauge, help: help, value: value)
        }
        return [
            c(
                "uploaded_files_total", "Files uploaded since the agent started.",
                s.uploadedFiles.load(ordering: .relaxed)),
            c(
                "uploaded_bytes_total", "Bytes uploaded since the agent started.",
                s.uploadedBytes.load(ordering: .relaxed)),
            c(
                "already_stored_files_total", "Files found in the bucket already (same bytes).",
                s.foundInBucket.load(ordering: .relaxed) + s.aliases.load(ordering: .relaxed)),
            c("upload_failures_total", "Upload attempts that failed.", s.failed.load(ordering: .relaxed)),
            c(
                "store_retries_total", "Store requests retried after a transient error.",
                s.retries.load(ordering: .relaxed)),
            g("queued_files", "Files waiting for upload.", Double(counts[.pending] ?? 0)),
            g(
                "oldest_queued_age_seconds", "Age of the oldest file waiting for upload (0: none).",
                oldest.map { max(0, Date().timeIntervalSince($0)) } ?? 0),
            g("watches", "Directories watched with inotify.", Double(watches)),
            c(
                "overflow_rescans_total", "inotify queue overflows, each followed by a rescan.",
                await ingestor.overflows),
            c(
                "reconciles_total", "Reconciles of disk, state and bucket.",
                metrics.reconciles.load(ordering: .relaxed)),
            c(
                "reconcile_lost_objects_total",
                "Objects the bucket lost, found by reconciles and uploaded again.",
                metrics.lostObjects.load(ordering: .relaxed)),
            c(
                "reconcile_forgotten_paths_total",
                "Uploaded paths gone from the disk, forgotten by reconciles.",
                metrics.forgottenPaths.load(ordering: .relaxed)),
            g("last_upload_timestamp_seconds", "When the last upload completed (0: none yet).", lastUpload),
            g(
                "live_history_through_timestamp_seconds",
                "Until when the live-SSTable history (restore --at) is complete (0: not watching).",
                history?.through.timeIntervalSince1970 ?? 0),
        ]
    }

    /// Writes the textfile atomically; a failure is logged, never fatal.
    func writeMetrics(watches: Int) async {
        guard let path = configuration.metricsTextfile else { return }
        let text = AgentMetrics.text(await metricSamples(watches: watches))
        let temporary = path + ".\(getpid()).tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            // node_exporter runs as its own user: the file carries no secret.
            chmod(temporary, 0o644)
            guard rename(temporary, path) == 0 else {
                throw CocoaError(
                    .fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))]
                )
            }
        } catch {
            unlink(temporary)
            logger.warning(
                "Cannot write the metrics textfile",
                metadata: ["file.path": "\(path)", "error.message": "\(error)"])
        }
    }
}
