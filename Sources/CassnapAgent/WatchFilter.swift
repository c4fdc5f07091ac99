import CassnapCore

/// Which directories the watcher and the disk scan descend into: the layout's watched
/// directories, minus keyspaces, tables, snapshot tags and locations the configuration leaves
/// out.
struct WatchFilter: Sendable {
    let configuration: AgentConfiguration

    func shouldDescend(into path: String) -> Bool {
        guard
            let dataPath = try? DataPath.classify(
                path: path, dataDirectories: configuration.dataDirectories, isDirectory: true),
            dataPath.isWatched
        else { return false }
        if let keyspace = dataPath.keyspace, !configuration.tables.allows(keyspace: keyspace) {
            return false
        }
        if let table = dataPath.table,
            !configuration.tables.allows(keyspace: table.keyspace, table: table.table)
        {
            return false
        }
        switch dataPath.kind {
        case .snapshotsDirectory: return configuration.watch.snapshots
        case .snapshotDirectory:
            return dataPath.snapshotTag.map { configuration.snapshotTags.shouldShip(tag: $0) } ?? false
        case .backupsDirectory: return configuration.watch.backups
        case .indexDirectory:
            if case .live = dataPath.location { return configuration.watch.live }
            return true
        default: return true
        }
    }
}
