import Foundation

/// What `fake-nodetool` prints, in nodetool's formats, and the sizes and durations it parses.
extension FakeNodetool {
    /// `65536`, `64K`, `64KiB`, `1M`, `1.5MB`, `2G`.
    package static func parseSize(_ text: String) throws -> Int {
        var s = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where s.hasSuffix(suffix) && s.count > suffix.count {
            s.removeLast(suffix.count)
            break
        }
        var multiplier = 1.0
        if let last = s.last, let m = ["K": 1024.0, "M": 1_048_576.0, "G": 1_073_741_824.0][String(last)] {
            multiplier = m
            s.removeLast()
        }
        guard let value = Double(s), value >= 0 else {
            throw CommandError.usage("'\(text)' is not a valid size")
        }
        return Int(value * multiplier)
    }

    static func parseDuration(_ text: String) throws -> TimeInterval {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last], let value = Double(text.dropLast()), value > 0 {
            return value * unit
        }
        if let value = Double(text), value > 0 { return value }
        throw CommandError.failure("Invalid duration: \(text). Accepted units: d, h, m, s")
    }

    /// `FileUtils.stringifyFileSize`: `#.##` and binary units.
    package static func humanSize(_ bytes: Int) -> String {
        let units: [(Double, String)] = [
            (1_099_511_627_776, "TiB"), (1_073_741_824, "GiB"), (1_048_576, "MiB"), (1024, "KiB"),
        ]
        func format(_ value: Double) -> String {
            var s = String(format: "%.2f", value)
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
            return s
        }
        let value = Double(bytes)
        for (size, unit) in units where value >= size { return "\(format(value / size)) \(unit)" }
        return "\(format(value)) bytes"
    }

    /// nodetool's `TableBuilder`: columns left-aligned, one space apart.
    static func formatTable(_ rows: [[String]], separator: String = " ") -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: separator)
        }.joined(separator: "\n") + "\n"
    }

    static func formatSnapshotList(_ snapshots: [SnapshotDetails]) -> String {
        var text = "Snapshot Details: \n"
        guard !snapshots.isEmpty else { return text + "There are no snapshots\n" }
        var rows = [
            [
                "Snapshot name", "Keyspace name", "Column family name", "True size", "Size on disk",
                "Creation time", "Expiration time",
            ]
        ]
        for s in snapshots {
            rows.append([
                s.tag, s.keyspace, s.table, humanSize(s.trueSize), humanSize(s.sizeOnDisk),
                s.createdAt.map(timestamp) ?? "", s.expiresAt.map(timestamp) ?? "",
            ])
        }
        text += formatTable(rows)
        text += "\nTotal TrueDiskSpaceUsed: \(humanSize(snapshots.reduce(0) { $0 + $1.trueSize }))\n\n"
        return text
    }
}

extension FakeNodetool {
    func infoText(showTokens: Bool) throws -> String {
        let hostID = try hostID().uuidString.lowercased()
        let load = try load()
        let tokens = try tokens()
        func line(_ label: String, _ value: String) -> String {
            label.padding(toLength: 23, withPad: " ", startingAt: 0) + ": " + value + "\n"
        }
        var text = line("ID", hostID)
        text += line("Gossip active", "true")
        text += line("Native Transport active", "true")
        text += line("Load", Self.humanSize(load))
        text += line("Uncompressed load", Self.humanSize(load))
        text += line("Generation No", String(Int(Date().timeIntervalSince1970) - 3600))
        text += line("Uptime (seconds)", "3600")
        text += line("Heap Memory (MB)", "512.00 / 4096.00")
        text += line("Off Heap Memory (MB)", "0.00")
        text += line("Data Center", configuration.dataCenter)
        text += line("Rack", configuration.rack)
        text += line("Exceptions", "0")
        text += line(
            "Key Cache",
            "entries 0, size 0 bytes, capacity 100 MiB, 0 hits, 0 requests, NaN recent hit rate, 14400 save period in seconds"
        )
        text += line("Percent Repaired", "0.0%")
        if showTokens {
            for token in tokens { text += line("Token", String(token)) }
        } else {
            text += line("Token", "(invoke with -T/--tokens to see all \(tokens.count) tokens)")
        }
        return text
    }

    func statusText() throws -> String {
        let header = "Datacenter: \(configuration.dataCenter)"
        let rows = [
            ["--", "Address", "Load", "Tokens", "Owns (effective)", "Host ID", "Rack"],
            [
                "UN", configuration.address, Self.humanSize(try load()), String(configuration.numTokens),
                "100.0%",
                try hostID().uuidString.lowercased(), configuration.rack,
            ],
        ]
        return header + "\n" + String(repeating: "=", count: header.count) + "\n"
            + "Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n"
            + Self.formatTable(rows, separator: "  ") + "\n"
    }

    func describeClusterText() throws -> String {
        var rng = SeededGenerator(
            seed: 11, try tables().map { "\($0.keyspace).\($0.name)" }.joined(separator: ","))
        let schema = UUID(
            uuid: (
                UInt8(truncatingIfNeeded: rng.next()), UInt8(truncatingIfNeeded: rng.next()),
                UInt8(truncatingIfNeeded: rng.next()), UInt8(truncatingIfNeeded: rng.next()),
                UInt8(truncatingIfNeeded: rng.next()), UInt8(truncatingIfNeeded: rng.next()), 0x30,
                UInt8(truncatingIfNeeded: rng.next()), 0x80, UInt8(truncatingIfNeeded: rng.next()),
                UInt8(truncatingIfNeeded: rng.next()), UInt8(truncatingIfNeeded: rng.next()),
                UInt8(truncatingIfNeeded: rng.next()), UInt8(truncatingIfNeeded: rng.next()),
                UInt8(truncatingIfNeeded: rng.next()), UInt8(truncatingIfNeeded: rng.next())
            ))
        let keyspaces = Set(try tables().map(\.keyspace)).sorted()
        var text = """
            Cluster Information:
            \tName: \(configuration.clusterName)
            \tSnitch: org.apache.cassandra.locator.SimpleSnitch
            \tDynamicEndPointSnitch: enabled
            \tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner
            \tSchema versions:
            \t\t\(schema.uuidString.lowercased()): [\(configuration.address)]

            Stats for all nodes:
            \tLive: 1
            \tJoining: 0
            \tMoving: 0
            \tLeaving: 0
            \tUnreachable: 0

            Data Centers: 
            \t\(configuration.dataCenter) #Nodes: 1 #Down: 0

            Database versions:
            \t\(configuration.releaseVersion): [\(configuration.address):7000]

            Keyspaces:

            """
        for keyspace in keyspaces {
            let strategy =
                keyspace == "system" || keyspace == "system_schema"
                ? "LocalStrategy {}" : "SimpleStrategy {replication_factor=1}"
            text += "\t\(keyspace) -> Replication class: \(strategy)\n"
        }
        return text
    }

    func ringText() throws -> String {
        let load = Self.humanSize(try load())
        let tokens = try tokens()
        var rows = [["Address", "Rack", "Status", "State", "Load", "Owns", "Token"]]
        rows.append(["", "", "", "", "", "", String(tokens.last!)])
        for token in tokens {
            rows.append([
                configuration.address, configuration.rack, "Up", "Normal", load, "100.00%", String(token),
            ])
        }
        return "\nDatacenter: \(configuration.dataCenter)\n==========\n" + Self.formatTable(rows) + "\n"
    }
}
