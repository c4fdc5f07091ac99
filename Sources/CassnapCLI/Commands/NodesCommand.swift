import ArgumentParser

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "Registered agents: host ID, last heartbeat, clock offset, upload-queue lag.")
    @OptionGroup var options: CoordinatorOptions

    func run() async throws {
        try await CoordinatorSession.run(options) { session in
            let nodes = try await session.client.nodes()
            if session.json { try session.printJSON(nodes) } else { print(SnapshotReport.nodes(nodes)) }
        }
    }
}
