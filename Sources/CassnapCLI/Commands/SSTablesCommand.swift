import ArgumentParser

struct SSTablesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sstables", abstract: "The SSTables that were live on a node at an instant.")
    @OptionGroup var options: CoordinatorOptions
    @Option(help: "Host ID or hostname.") var node: String
    @Option(help: "The instant, ISO 8601.") var at: String
    func run() async throws { try notYetImplemented("sstables") }
}
