import ArgumentParser

extension SnapshotCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cluster snapshots, oldest first.")
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let snapshots = try await session.client.listSnapshots()
                if session.json {
                    try session.printJSON(snapshots)
                } else {
                    print(SnapshotReport.list(snapshots))
                }
            }
        }
    }
}
