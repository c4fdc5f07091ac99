import ArgumentParser
import CassnapCore
import Foundation

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Maintain the coordinator's catalog.", subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recreate the coordinator's snapshot catalog from the bucket alone.")
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let result = try await session.client.rebuildCatalog()
                if session.json {
                    try session.printJSON(result)
                } else {
                    print(
                        "rebuilt \(result.snapshots) snapshots, \(result.nodes) nodes, \(result.files) files from the bucket"
                    )
                    for object in result.skipped {
                        FileHandle.standardError.write(
                            Data("cassnap: skipped unreadable \(object.key): \(object.reason)\n".utf8))
                    }
                }
                // Left-out records are data an operator must look at: not a success.
                if !result.skipped.isEmpty { throw ExitCode(ExitStatus.failure) }
            }
        }
    }
}
