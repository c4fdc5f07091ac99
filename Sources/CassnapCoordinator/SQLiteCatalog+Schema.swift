import GRDB

extension SQLiteCatalog {
    /// Migrations run at every start; each one runs once per database, in order.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE nodes (
                        host_id TEXT PRIMARY KEY NOT NULL,
                        hostname TEXT NOT NULL,
                        cluster TEXT NOT NULL,
                        datacenter TEXT NOT NULL,
                        rack TEXT NOT NULL,
                        tokens TEXT NOT NULL,
                        cassandra_version TEXT NOT NULL,
                        data_directories TEXT NOT NULL,
                        agent_version TEXT NOT NULL,
                        registered_at REAL NOT NULL,
                        last_heartbeat REAL,
                        clock_offset REAL,
                        queued_files INTEGER NOT NULL DEFAULT 0,
                        oldest_queued_age REAL,
                        uploaded_files INTEGER NOT NULL DEFAULT 0,
                        uploaded_bytes INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX nodes_hostname ON nodes(hostname);

                    -- Report ids already applied: a resent report changes nothing.
                    CREATE TABLE processed_reports (
                        report_id TEXT PRIMARY KEY NOT NULL,
                        host_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        received_at REAL NOT NULL
                    ) WITHOUT ROWID;

                    -- The node's pool: objects the agent reported uploaded.
                    CREATE TABLE pool_files (
                        host_id TEXT NOT NULL,
                        object_key TEXT NOT NULL,
                        keyspace TEXT NOT NULL,
                        table_name TEXT NOT NULL,
                        table_id TEXT,
                        index_name TEXT,
                        file_name TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        uploaded_at REAL NOT NULL,
                        PRIMARY KEY (host_id, object_key)
                    ) WITHOUT ROWID;

                    CREATE TABLE sstable_events (
                        host_id TEXT NOT NULL,
                        keyspace TEXT NOT NULL,
                        table_name TEXT NOT NULL,
                        table_id TEXT,
                        sstable TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        at REAL NOT NULL
                    );
                    CREATE INDEX sstable_events_by_node ON sstable_events(host_id, keyspace, table_name, sstable, at);

                    CREATE TABLE snapshots (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        tag TEXT NOT NULL UNIQUE,
                        requested_at REAL NOT NULL,
                        deadline REAL NOT NULL,
                        status TEXT NOT NULL,
                        keyspaces TEXT NOT NULL,
                        tables TEXT NOT NULL,
                        revision INTEGER NOT NULL DEFAULT 1,
                        mirrored_revision INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX snapshots_pending ON snapshots(status, deadline);

                    CREATE TABLE snapshot_nodes (
                        snapshot_seq INTEGER NOT NULL REFERENCES snapshots(seq) ON DELETE CASCADE,
                        host_id TEXT NOT NULL,
                        hostname TEXT,
                        datacenter TEXT,
                        rack TEXT,
                        status TEXT NOT NULL,
                        taken_at REAL,
                        manifest_key TEXT,
                        error TEXT,
                        files INTEGER NOT NULL DEFAULT 0,
                        bytes INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (snapshot_seq, host_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX snapshot_nodes_by_host ON snapshot_nodes(host_id, status);

                    -- Clustered by snapshot, node, table: `snapshot sstables` reads one range in order.
                    CREATE TABLE snapshot_files (
                        snapshot_seq INTEGER NOT NULL REFERENCES snapshots(seq) ON DELETE CASCADE,
                        host_id TEXT NOT NULL,
                        keyspace TEXT NOT NULL,
                        table_name TEXT NOT NULL,
                        index_name TEXT NOT NULL,
                        sstable TEXT NOT NULL,
                        file_name TEXT NOT NULL,
                        table_id TEXT,
                        size INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        object_key TEXT NOT NULL,
                        PRIMARY KEY (snapshot_seq, host_id, keyspace, table_name, index_name, sstable, file_name)
                    ) WITHOUT ROWID;

                    CREATE TABLE commands (
                        id TEXT PRIMARY KEY NOT NULL,
                        host_id TEXT NOT NULL,
                        snapshot_seq INTEGER NOT NULL REFERENCES snapshots(seq) ON DELETE CASCADE,
                        payload TEXT NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE INDEX commands_by_host ON commands(host_id, snapshot_seq);
                    """)
        }
        migrator.registerMigration("v2-paging") { db in
            try db.execute(
                sql: """
                    -- `snapshot sstables --table ks.t` without a node: seek to the table, then node order.
                    -- Unfiltered and node-filtered pages seek in the primary key.
                    CREATE INDEX snapshot_files_by_table
                        ON snapshot_files(snapshot_seq, keyspace, table_name, host_id, index_name, sstable, file_name);
                    -- `snapshot list` pages: keyset on (requested_at, tag).
                    CREATE INDEX snapshots_by_requested ON snapshots(requested_at, tag);
                    """)
        }
        migrator.registerMigration("v3-chunked-reports") { db in
            try db.execute(
                sql: """
                    -- A large report is applied in chunks of their own transactions, so one node's backlog
                    -- never holds the writer long. NULL: the whole report is applied; N: its first N items.
                    ALTER TABLE processed_reports ADD COLUMN applied INTEGER;
                    """)
        }
        migrator.registerMigration("v4-node-snapshots") { db in
            try db.execute(
                sql: """
                    -- Snapshots taken outside cassnap (`nodetool snapshot -t X`), one row per node and tag,
                    -- from the agent's report once its manifest was written and verified here.
                    CREATE TABLE node_snapshots (
                        host_id TEXT NOT NULL,
                        tag TEXT NOT NULL,
                        manifest_key TEXT NOT NULL,
                        taken_at REAL NOT NULL,
                        files INTEGER NOT NULL,
                        bytes INTEGER NOT NULL,
                        verified_at REAL NOT NULL,
                        error TEXT,
                        PRIMARY KEY (host_id, tag)
                    );
                    """)
        }
        migrator.registerMigration("v5-live-history") { db in
            try db.execute(
                sql: """
                    -- Stretches of agent time over which a node's sstable_events are complete, from
                    -- its heartbeats: `restore --at T` needs T inside one.
                    CREATE TABLE live_history (
                        host_id TEXT NOT NULL,
                        since REAL NOT NULL,
                        through REAL NOT NULL,
                        PRIMARY KEY (host_id, since)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v6-schedules") { db in
            try db.execute(
                sql: """
                    -- Recurring snapshots: the definition (as in the bucket's schedules/<name>.json)
                    -- and the run state only the catalog keeps.
                    CREATE TABLE schedules (
                        name TEXT PRIMARY KEY NOT NULL,
                        document TEXT NOT NULL,
                        next_run_at REAL,
                        last_run_at REAL,
                        last_snapshot_id TEXT,
                        retained_after TEXT,
                        last_retention TEXT,
                        last_retention_at REAL
                    ) WITHOUT ROWID;
                    """)
        }
        return migrator
    }
}
