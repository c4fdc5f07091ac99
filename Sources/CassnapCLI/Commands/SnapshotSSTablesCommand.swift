import ArgumentParser

extension SnapshotCommand {
    struct SSTables: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sstables",
            abstract:
                "The SSTables, on which nodes, that form one snapshot: components, sizes, checksums, keys.")
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String
        @Option(help: "Only this node (host ID or hostname).") var node: String?
        @Option(help: "Only this keyspace.") var keyspace: String?
        @Option(help: "Only this table (ks.table).") var table: String?

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let sstables = try await session.client.snapshotSSTables(
                    id, node: node, keyspace: keyspace, table: table)
                if session.json {
                    try session.printJSON(sstables)
                } else {
                    print(SnapshotReport.sstables(sstables))
                }
            }
        }
    }
}
