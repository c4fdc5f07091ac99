import ArgumentParser

extension SnapshotCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Status, nodes, per-node instants, spread, bytes and files of one snapshot.")
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let detail = try await session.client.snapshot(id)
                if session.json {
                    try session.printJSON(detail)
                } else {
                    print(SnapshotReport.detail(detail))
                }
            }
        }
    }
}
