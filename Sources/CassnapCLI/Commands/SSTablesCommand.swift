import ArgumentParser

struct SSTablesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sstables", abstract: "The SSTables that were live on a node at an instant.")
    @OptionGroup var options: CoordinatorOptions
    @Option(help: "Host ID or hostname.") var node: String
    @Option(help: "The instant, ISO 8601.") var at: String

    func run() async throws {
        try await CoordinatorSession.run(options) { session in
            let instant = try FlagValues.instant(at, flag: "--at")
            let live = try await session.client.liveSSTables(node: node, at: instant)
            if session.json { try session.printJSON(live) } else { print(SnapshotReport.live(live)) }
        }
    }
}
