import ArgumentParser
import CassnapCore
import CassnapRepository
import Foundation

/// `cassnap prune`: deletes expired cluster snapshots, then the pool objects no remaining
/// snapshot references.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete expired cluster snapshots, then pool objects no remaining snapshot references.",
        discussion: """
            A snapshot is kept when any rule keeps it (pending ones always are): --keep-last N \
            complete snapshots, --keep-within a window, --keep-tag patterns. Pool objects younger \
            than --grace are never deleted (an upload or a snapshot may be in flight). Deletes go in \
            batches of 1,000 keys. --dry-run lists what would go, with counts and bytes.
            """)

    @Option(name: .customLong("keep-last"), help: "Keep the newest N complete snapshots.") var keepLast: Int?
    @Option(
        name: .customLong("keep-within"), help: "Keep snapshots requested within this long, e.g. 30d, 12h.")
    var keepWithin: String?
    @Option(name: .customLong("keep-tag"), help: "Keep snapshots whose tag matches this glob; repeatable.")
    var keepTag: [String] = []
    @Option(help: "Never delete pool objects younger than this, e.g. 6h (default).") var grace = "6h"
    @Flag(name: .customLong("dry-run"), help: "Only list what would be deleted.") var dryRun = false
    @OptionGroup var repository: RepositoryOptions

    func validate() throws {
        if keepLast == nil && keepWithin == nil && keepTag.isEmpty {
            throw ValidationError("give at least one of --keep-last, --keep-within, --keep-tag")
        }
        if let keepLast, keepLast < 0 { throw ValidationError("--keep-last must not be negative") }
    }

    func run() async throws {
        try await withRepositoryErrors {
            var policy = RetentionPolicy(keepLast: keepLast)
            if let keepWithin {
                policy.keepWithin = try FlagValues.duration(keepWithin, flag: "--keep-within")
            }
            for pattern in keepTag {
                do { policy.keepTags.append(try GlobPattern(pattern)) } catch {
                    throw CLIError.usage("--keep-tag \(pattern.debugDescription): \(error)")
                }
            }
            let graceSeconds = try FlagValues.duration(grace, flag: "--grace")
            let repo = try await repository.open()
            let now = Date()
            let listing = try await repo.clusterSnapshots()
            if let (key, error) = listing.unreadable.first {
                throw CLIError(
                    message: "\(key) is unreadable (\(error)); prune stops", exitCode: ExitStatus.failure)
            }
            let expired = policy.expired(listing.records, now: now)
            let verb = dryRun ? "would delete" : "deleted"
            for record in expired {
                if !dryRun {
                    if repository.store == nil {
                        // The coordinator deletes its catalog entry together with the bucket's.
                        try await CoordinatorSession.run(repository.coordinator) {
                            _ = try await $0.client.deleteSnapshot(record.id.description)
                        }
                    } else {
                        try await repo.deleteRecord(of: record)
                        try await repo.deleteNodeSnapshots(tag: record.tag, hosts: record.nodes.map(\.hostID))
                    }
                }
                print(
                    "\(verb) snapshot \(record.tag) (\(record.status.rawValue), \(InstantFormat.format(record.requestedAt)))"
                )
            }
            let hosts = Set(listing.records.flatMap { $0.nodes.map(\.hostID) })
            let report = try await repo.sweepPool(
                expired: Set(expired.map(\.tag)), hosts: hosts, grace: graceSeconds, now: now, dryRun: dryRun)
            print(
                "\(verb) \(expired.count) snapshots, \(report.poolObjects) pool objects (\(report.poolBytes) bytes), "
                    + "\(report.orphanManifests) orphan manifests; kept \(report.nodeSnapshots) node snapshots' objects; "
                    + "spared \(report.sparedYoung) objects younger than \(grace); "
                    + String(format: "%.1f s", report.seconds))
        }
    }
}
