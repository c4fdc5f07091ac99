import Foundation

extension FakeNodetool {
    /// `fake-nodetool populate --root DIR [--keyspaces N] [--tables N] [--sstables N] [--seed N]
    /// [--host-id UUID] [--incremental-backups] [--format ic|ka|me|nb|oa|da] [--sai INDEX]...
    /// [--sasi INDEX]... [--leveled-manifest] [--release-version V]`: builds a realistic node (the demo's and the
    /// benchmarks' data) with `CassandraDataBuilder` and prints its data directory.
    /// Not a nodetool command: real nodetool has nothing like it.
    package static func populate(_ arguments: [String]) -> CommandResult {
        var configuration = CassandraDataBuilder.Configuration()
        var root: String?
        var index = 0
        func value(_ name: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw CommandError.usage("populate: \(name) needs a value") }
            return arguments[index]
        }
        func number(_ name: String) throws -> Int {
            let text = try value(name)
            guard let n = Int(text), n >= 0 else {
                throw CommandError.usage("populate: \(name) wants a number, got \(text)")
            }
            return n
        }
        do {
            while index < arguments.count {
                switch arguments[index] {
                case "--root": root = try value("--root")
                case "--keyspaces": configuration.keyspaces = try number("--keyspaces")
                case "--tables": configuration.tablesPerKeyspace = try number("--tables")
                case "--sstables": configuration.sstablesPerTable = try number("--sstables")
                case "--seed": configuration.seed = UInt64(try number("--seed"))
                case "--incremental-backups": configuration.incrementalBackups = true
                case "--format":
                    let text = try value("--format")
                    guard let format = SSTableFixture.Format(rawValue: text) else {
                        let known = SSTableFixture.Format.allCases.map(\.rawValue).joined(separator: ", ")
                        throw CommandError.usage("populate: --format wants one of \(known), got \(text)")
                    }
                    configuration.format = format
                case "--sai": configuration.saiIndexes.append(try value("--sai"))
                case "--sasi": configuration.sasiIndexes.append(try value("--sasi"))
                case "--leveled-manifest": configuration.leveledManifest = true
                case "--release-version": configuration.releaseVersion = try value("--release-version")
                case "--host-id":
                    let text = try value("--host-id")
                    guard let id = UUID(uuidString: text) else {
                        throw CommandError.usage("populate: --host-id wants a UUID, got \(text)")
                    }
                    configuration.hostID = id
                default: throw CommandError.usage("populate: unknown option \(arguments[index])")
                }
                index += 1
            }
            guard let root else { throw CommandError.usage("populate: --root DIR is required") }
            let node = try CassandraDataBuilder(
                root: URL(fileURLWithPath: root), configuration: configuration
            ).build()
            let dirs = node.dataDirectories.map(\.path).joined(separator: ":")
            return CommandResult(
                exitCode: 0,
                standardOutput: "\(dirs)\n",
                standardError:
                    "populated \(node.tables.count) tables, \(node.files.count) files, \(node.totalSize) bytes\n"
            )
        } catch {
            return CommandResult(exitCode: 1, standardOutput: "", standardError: "fake-nodetool: \(error)\n")
        }
    }
}
