import ArgumentParser

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "Registered agents: host ID, last heartbeat, clock offset, upload-queue lag.")
    @OptionGroup var options: CoordinatorOptions
    func run() async throws { try notYetImplemented("nodes") }
}
