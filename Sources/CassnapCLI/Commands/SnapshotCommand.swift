import ArgumentParser

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Create, list and inspect cluster snapshots.",
        subcommands: [Create.self, List.self, Show.self, SSTables.self, Delete.self]
    )
}
