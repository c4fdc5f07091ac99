import ArgumentParser

extension SnapshotCommand {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a cluster snapshot: its record, catalog entry and node manifests.",
            discussion:
                "Pool objects stay: `cassnap prune` removes the ones no remaining snapshot references.")
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let deleted = try await session.client.deleteSnapshot(id)
                if session.json {
                    try session.printJSON(deleted)
                } else {
                    print("deleted snapshot \(deleted.tag) (\(deleted.id))")
                }
            }
        }
    }
}
