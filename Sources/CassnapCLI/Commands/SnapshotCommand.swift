import ArgumentParser

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Create, list and inspect cluster snapshots.",
        subcommands: [Create.self, List.self, Show.self, SSTables.self, Delete.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a cluster snapshot on every node at one chosen instant.")
        @OptionGroup var options: CoordinatorOptions
        @Option(help: "The instant, ISO 8601 (e.g. 2026-11-23T02:00:00Z).") var at: String?
        @Option(name: .customLong("in"), help: "A delay from now instead of --at, e.g. 30s, 5m.") var delay:
            String?
        @Option(help: "Only these keyspaces (repeatable).") var keyspace: [String] = []
        @Option(help: "Only these tables, as ks.table (repeatable).") var table: [String] = []
        @Option(help: "The snapshot tag (default: generated from the instant).") var tag: String?
        @Flag(help: "Wait until the snapshot is complete, partial or failed, showing progress.") var wait =
            false

        func run() async throws { try notYetImplemented("snapshot create") }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cluster snapshots.")
        @OptionGroup var options: CoordinatorOptions
        func run() async throws { try notYetImplemented("snapshot list") }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Status, nodes, per-node instants, spread, bytes and files of one snapshot.")
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String
        func run() async throws { try notYetImplemented("snapshot show") }
    }

    struct SSTables: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sstables", abstract: "The SSTables, on which nodes, that form one snapshot.")
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String
        @Option(help: "Only this node (host ID or hostname).") var node: String?
        @Option(help: "Only this keyspace.") var keyspace: String?
        @Option(help: "Only this table (ks.table).") var table: String?
        func run() async throws { try notYetImplemented("snapshot sstables") }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a cluster snapshot record.")
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String
        func run() async throws { try notYetImplemented("snapshot delete") }
    }
}
