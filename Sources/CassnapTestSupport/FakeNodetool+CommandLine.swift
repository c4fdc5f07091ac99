import Foundation

/// The `fake-nodetool` command line.
///
/// Data directories: every `--data-dir DIR` (repeatable), else `$FAKE_NODETOOL_DATA_DIR`
/// (colon-separated for JBOD). JMX options (`-h`, `-p`, `-u`, `-pw`, `-pwf`, `-pp`, `--ssl`,
/// `-D…`) are accepted anywhere and ignored.
///
/// Exit codes and streams follow nodetool: 0 success; 1 bad usage (`nodetool: <message>` and
/// the `See 'nodetool help'` line; nodetool prints these on stdout, the fake on stderr so callers
/// capturing stderr see them); 2 a failed command (`error: <message>` and `-- StackTrace --` on
/// stderr).
///
/// Environment: `FAKE_NODETOOL_DATA_DIR`, `FAKE_NODETOOL_HOST_ID`,
/// `FAKE_NODETOOL_INCREMENTAL_BACKUPS` (`1`/`0`, overrides the marker file),
/// `FAKE_NODETOOL_FLUSH_SIZE`, `FAKE_NODETOOL_FLUSH_WRITE_DELAY_MS`, `FAKE_NODETOOL_DC`,
/// `FAKE_NODETOOL_RACK`, `FAKE_NODETOOL_CLUSTER_NAME`, `FAKE_NODETOOL_ADDRESS`,
/// `FAKE_NODETOOL_RELEASE_VERSION`, `FAKE_NODETOOL_DOWN=1` (every command but `version` fails
/// as when Cassandra is not running), `FAKE_NODETOOL_STATS=1` (a timing line on stderr).
extension FakeNodetool {
    package struct CommandResult: Sendable {
        package var exitCode: Int32
        package var standardOutput: String
        package var standardError: String
    }

    package static let usage = """
        usage: fake-nodetool [--data-dir DIR]... [(-h|--host) HOST] [(-p|--port) PORT] <command> [<args>]

        Commands:
            snapshot        [-t TAG] [-kt ks.t[,ks.t]] [-cf TABLE] [-sf] [--ttl N[s|m|h|d]] [ks...]
            clearsnapshot   -t TAG | --all [ks...]
            listsnapshots
            flush           [ks [tables...]] [--size BYTES] [--write-delay-ms N] [--no-txn-log]
            compact         [ks [tables...]]
            enablebackup | disablebackup | statusbackup
            info [-T] | status | describecluster | ring | version | help

        See 'nodetool help' or 'nodetool help <command>'.

        """

    /// Runs one command line (without the program name) and returns what nodetool would print.
    package static func runCommandLine(_ arguments: [String], environment: [String: String]) -> CommandResult
    {
        var output = ""
        var errors = ""
        do {
            try execute(arguments, environment: environment, output: &output, errors: &errors)
            return CommandResult(exitCode: 0, standardOutput: output, standardError: errors)
        } catch let error as CommandError {
            switch error.kind {
            case .usage:
                return CommandResult(
                    exitCode: 1, standardOutput: output,
                    standardError:
                        "nodetool: \(error.message)\nSee 'nodetool help' or 'nodetool help <command>'.\n")
            case .failure:
                return CommandResult(exitCode: 2, standardOutput: output, standardError: stackTrace(error))
            }
        } catch {
            let failure = CommandError.failure(String(describing: error))
            return CommandResult(exitCode: 2, standardOutput: output, standardError: stackTrace(failure))
        }
    }

    private static func stackTrace(_ error: CommandError) -> String {
        """
        error: \(error.message)
        -- StackTrace --
        \(error.exception): \(error.message)
        \tat org.apache.cassandra.tools.NodeProbe (fake-nodetool)

        """
    }

    /// Splits off the global options nodetool accepts anywhere on the line.
    static func globalOptions(_ arguments: [String]) throws -> (dataDirectories: [String], rest: [String]) {
        let withValue: Set<String> = [
            "-h", "--host", "-p", "--port", "-u", "--username", "-pw", "--password", "-pwf",
            "--password-file",
        ]
        var dataDirectories: [String] = []
        var rest: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--data-dir" || withValue.contains(argument) {
                guard i + 1 < arguments.count else {
                    throw CommandError.usage("Required values for option '\(argument)' not provided")
                }
                if argument == "--data-dir" { dataDirectories.append(arguments[i + 1]) }
                i += 2
            } else if argument.hasPrefix("--data-dir=") {
                dataDirectories.append(String(argument.dropFirst("--data-dir=".count)))
                i += 1
            } else if argument == "--ssl" || argument == "-pp" || argument == "--print-port"
                || (argument.hasPrefix("-D") && argument.count > 2)
            {
                i += 1
            } else {
                rest.append(argument)
                i += 1
            }
        }
        return (dataDirectories, rest)
    }

    /// The configuration a command line and environment describe.
    package static func configuration(
        dataDirectoryArguments: [String], environment: [String: String]
    ) throws -> Configuration {
        var paths = dataDirectoryArguments
        if paths.isEmpty, let variable = environment["FAKE_NODETOOL_DATA_DIR"] {
            paths = variable.split(separator: ":").map(String.init)
        }
        let cwd = FileManager.default.currentDirectoryPath
        var configuration = Configuration(
            dataDirectories: paths.map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: cwd)) })
        if let value = environment["FAKE_NODETOOL_HOST_ID"], !value.isEmpty {
            guard let uuid = UUID(uuidString: value) else {
                throw CommandError.failure("FAKE_NODETOOL_HOST_ID is not a UUID: \(value)")
            }
            configuration.hostID = uuid
        }
        switch environment["FAKE_NODETOOL_INCREMENTAL_BACKUPS"]?.lowercased() {
        case "1", "true", "yes": configuration.incrementalBackups = true
        case "0", "false", "no": configuration.incrementalBackups = false
        default: break
        }
        if let value = environment["FAKE_NODETOOL_DC"] { configuration.dataCenter = value }
        if let value = environment["FAKE_NODETOOL_RACK"] { configuration.rack = value }
        if let value = environment["FAKE_NODETOOL_CLUSTER_NAME"] { configuration.clusterName = value }
        if let value = environment["FAKE_NODETOOL_ADDRESS"] { configuration.address = value }
        if let root = configuration.dataDirectories.first?.deletingLastPathComponent(),
            let release = releaseVersion(inNodeRoot: root)
        {
            configuration.releaseVersion = release
        }
        if let value = environment["FAKE_NODETOOL_RELEASE_VERSION"] { configuration.releaseVersion = value }
        return configuration
    }

    private struct Arguments {
        var items: [String]
        var index = 0

        mutating func next() -> String? {
            guard index < items.count else { return nil }
            defer { index += 1 }
            return items[index]
        }

        /// The value of `option`, given as `option VALUE` or `option=VALUE`.
        mutating func value(_ option: String) throws -> String {
            guard let value = next() else {
                throw CommandError.usage("Required values for option '\(option)' not provided")
            }
            return value
        }
    }

    private static func unexpected(_ arguments: [String]) -> CommandError {
        .usage("Found unexpected parameters: [\(arguments.joined(separator: ", "))]")
    }

    private static func execute(
        _ arguments: [String], environment: [String: String], output: inout String, errors: inout String
    ) throws {
        let (dataDirectories, rest) = try globalOptions(arguments)
        guard let command = rest.first else {
            output += usage
            return
        }
        var args = Arguments(items: Array(rest.dropFirst()))
        if command == "help" || command == "-?" || command == "--help" {
            output += usage
            return
        }
        let configuration = try configuration(
            dataDirectoryArguments: dataDirectories, environment: environment)
        if command == "version" {
            guard args.next() == nil else { throw unexpected(Array(rest.dropFirst())) }
            output += "ReleaseVersion: \(configuration.releaseVersion)\n"
            return
        }
        if ["1", "true"].contains(environment["FAKE_NODETOOL_DOWN"]?.lowercased() ?? "") {
            throw CommandError.usage(
                "Failed to connect to '\(configuration.address):7199' - ConnectException: 'Connection refused'."
            )
        }
        let nodetool = FakeNodetool(configuration: configuration)
        let started = Date()

        switch command {
        case "snapshot":
            var tag: String?
            var table: String?
            var ktList: [TableName] = []
            var keyspaces: [String] = []
            var skipFlush = false
            var ttl: TimeInterval?
            var ttlText: String?
            while let argument = args.next() {
                let (name, inline) = splitInline(argument)
                func value() throws -> String { try inline ?? args.value(name) }
                switch name {
                case "-t", "--tag": tag = try value()
                case "-cf", "--column-family", "--table": table = try value()
                case "-kt", "--kt-list", "-kc", "--kc.list":
                    // 1.2's NodeCmd parses with commons-cli, which knows only `-cf`.
                    if nodetool.majorVersion == 1 {
                        throw CommandError.usage("Unrecognized option: \(name)")
                    }
                    for item in try value().split(separator: ",") {
                        let parts = item.split(separator: ".", maxSplits: 1).map(String.init)
                        guard parts.count == 2 else {
                            throw CommandError.failure(
                                "Cannot take a snapshot on secondary index or invalid column family name. You must supply a column family name in the form of keyspace.columnfamily"
                            )
                        }
                        ktList.append(TableName(parts[0], parts[1]))
                    }
                case "-sf", "--skip-flush": skipFlush = true
                case "--ttl":
                    ttlText = try value()
                    ttl = try parseDuration(ttlText!)
                case "--": keyspaces += Array(args.items[args.index...]); args.index = args.items.count
                default:
                    if argument.hasPrefix("-") { throw unexpected([argument]) }
                    keyspaces.append(argument)
                }
            }
            var requested = ktList
            if let table {
                guard keyspaces.count == 1, ktList.isEmpty else {
                    throw CommandError.failure(
                        "When specifying the table for a snapshot, you must specify one and only one keyspace"
                    )
                }
                requested = [TableName(keyspaces[0], table)]
            } else if !ktList.isEmpty && !keyspaces.isEmpty {
                throw CommandError.failure(
                    "When specifying the Keyspace columfamily list for a snapshot, you should not specify columnfamily"
                )
            }
            let snapshotTag = tag ?? String(Int64(started.timeIntervalSince1970 * 1000))
            let target =
                !ktList.isEmpty
                ? "[\(ktList.map(\.description).joined(separator: ","))]"
                : keyspaces.isEmpty ? "[all keyspaces]" : "[\(keyspaces.joined(separator: ", "))]"
            var options = "skipFlush=\(skipFlush)"
            if let ttlText { options += ", ttl=\(ttlText)" }
            output +=
                "Requested creating snapshot(s) for \(target) with snapshot name [\(snapshotTag)] and options {\(options)}\n"
            let result = try nodetool.snapshot(
                tag: snapshotTag, keyspaces: requested.isEmpty ? keyspaces : [], tables: requested, ttl: ttl,
                now: started)
            output += "Snapshot directory: \(snapshotTag)\n"
            if environment["FAKE_NODETOOL_STATS"] == "1" {
                let seconds = String(format: "%.3f", Date().timeIntervalSince(started))
                errors +=
                    "fake-nodetool: \(result.linkCount) links in \(result.tables.count) tables, \(seconds)s\n"
            }

        case "clearsnapshot":
            var tag: String?
            var all = false
            var keyspaces: [String] = []
            while let argument = args.next() {
                let (name, inline) = splitInline(argument)
                switch name {
                case "-t", "--tag": tag = try inline ?? args.value(name)
                case "--all": all = true
                default:
                    if argument.hasPrefix("-") { throw unexpected([argument]) }
                    keyspaces.append(argument)
                }
            }
            if let tag, tag.isEmpty == false, all {
                throw CommandError.failure("Specify only one of snapshot name or --all")
            }
            if (tag ?? "").isEmpty && !all {
                throw CommandError.failure("Specify snapshot name or --all")
            }
            let target = keyspaces.isEmpty ? "[all keyspaces]" : "[\(keyspaces.joined(separator: ", "))]"
            output +=
                "Requested clearing snapshot(s) for \(target)"
                + (all ? " with [all snapshots]\n" : " with snapshot name [\(tag!)]\n")
            try nodetool.clearSnapshot(tag: all ? nil : tag, keyspaces: keyspaces)

        case "listsnapshots":
            while let argument = args.next() {
                guard ["-nt", "--no-ttl", "-e", "--ephemeral"].contains(argument) else {
                    throw unexpected([argument])
                }
            }
            output += formatSnapshotList(try nodetool.listSnapshots())

        case "flush", "compact":
            var positional: [String] = []
            var options = FlushOptions()
            if let value = environment["FAKE_NODETOOL_FLUSH_SIZE"] { options.dataSize = try parseSize(value) }
            if let value = environment["FAKE_NODETOOL_FLUSH_WRITE_DELAY_MS"], let delay = Int(value) {
                options.writeDelayMilliseconds = delay
            }
            while let argument = args.next() {
                let (name, inline) = splitInline(argument)
                switch (command, name) {
                case ("flush", "--size"): options.dataSize = try parseSize(inline ?? args.value(name))
                case ("flush", "--write-delay-ms"):
                    let text = try inline ?? args.value(name)
                    guard let delay = Int(text), delay >= 0 else {
                        throw CommandError.usage(
                            "'\(text)' is not a valid value for option '--write-delay-ms'")
                    }
                    options.writeDelayMilliseconds = delay
                case ("flush", "--no-txn-log"): options.transactionLog = false
                case ("compact", "-s"), ("compact", "--split-output"): break
                case (_, "--"): positional += Array(args.items[args.index...]); args.index = args.items.count
                default:
                    if argument.hasPrefix("-") { throw unexpected([argument]) }
                    positional.append(argument)
                }
            }
            if command == "flush" {
                try nodetool.flush(
                    keyspace: positional.first, tables: Array(positional.dropFirst()), options: options)
            } else {
                try nodetool.compact(keyspace: positional.first, tables: Array(positional.dropFirst()))
            }

        case "enablebackup", "disablebackup":
            guard args.next() == nil else { throw unexpected(Array(rest.dropFirst())) }
            try nodetool.setIncrementalBackups(command == "enablebackup")

        case "statusbackup":
            guard args.next() == nil else { throw unexpected(Array(rest.dropFirst())) }
            try nodetool.checkDataDirectories()
            output += nodetool.incrementalBackupsEnabled ? "running\n" : "not running\n"

        case "info":
            var showTokens = false
            while let argument = args.next() {
                guard argument == "-T" || argument == "--tokens" else { throw unexpected([argument]) }
                showTokens = true
            }
            output += try nodetool.infoText(showTokens: showTokens)

        case "status":
            var keyspaces: [String] = []
            while let argument = args.next() {
                if argument == "-r" || argument == "--resolve-ip" { continue }
                if argument.hasPrefix("-") { throw unexpected([argument]) }
                keyspaces.append(argument)
            }
            _ = try nodetool.selectTables(keyspaces: keyspaces, tables: [])
            output += try nodetool.statusText()

        case "describecluster":
            guard args.next() == nil else { throw unexpected(Array(rest.dropFirst())) }
            output += try nodetool.describeClusterText()

        case "ring":
            output += try nodetool.ringText()

        default:
            throw unexpected([command])
        }
    }

    private static func splitInline(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else {
            return (argument, nil)
        }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
