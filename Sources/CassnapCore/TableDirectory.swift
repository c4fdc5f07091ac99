/// A table directory's name: `<table>-<32 hex id>` since 2.1, plain `<table>` before.
package struct TableDirectory: Sendable, Hashable, CustomStringConvertible {
    package let table: String
    package let id: TableID?

    package init(table: String, id: TableID?) throws(ValidationError) {
        try CassandraName.validate(table, as: .table)
        self.table = table
        self.id = id
    }

    /// Parses a directory name exactly as Cassandra writes it (so it round-trips).
    package init(parsing name: String) throws(ValidationError) {
        guard let dash = name.lastIndex(of: "-") else {
            guard CassandraName.isValid(name) else {
                throw .invalid(
                    field: .tableDirectory, value: name,
                    reason: "expected <table>-<32 hex table id> or a pre-2.1 <table>")
            }
            self.table = name
            self.id = nil
            return
        }
        let table = String(name[..<dash])
        let hex = String(name[name.index(after: dash)...])
        guard CassandraName.isValid(table) else {
            throw .invalid(
                field: .tableDirectory, value: name,
                reason: "the part before the table id is not a Cassandra table name")
        }
        guard hex.utf8.count == 32, hex.utf8.allSatisfy(CassandraName.isLowercaseHex) else {
            throw .invalid(
                field: .tableDirectory, value: name, reason: "the table id is not 32 lowercase hex digits")
        }
        self.table = table
        self.id = try TableID(hex)
    }

    package var name: String { id.map { "\(table)-\($0.directoryForm)" } ?? table }
    package var description: String { name }
}
