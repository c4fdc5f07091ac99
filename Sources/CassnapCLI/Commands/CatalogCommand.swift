import ArgumentParser

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Maintain the coordinator's catalog.", subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recreate the coordinator's SQLite catalog from the bucket alone.")
        @OptionGroup var options: CoordinatorOptions
        func run() async throws { try notYetImplemented("catalog rebuild") }
    }
}
