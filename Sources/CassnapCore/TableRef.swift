/// A table as the bucket and the data directory address it: keyspace plus table directory.
package struct TableRef: Sendable, Hashable, CustomStringConvertible {
    package let keyspace: String
    package let directory: TableDirectory

    package init(keyspace: String, directory: TableDirectory) throws(ValidationError) {
        try CassandraName.validate(keyspace, as: .keyspace)
        self.keyspace = keyspace
        self.directory = directory
    }

    package init(keyspace: String, table: String, id: TableID?) throws(ValidationError) {
        try self.init(keyspace: keyspace, directory: TableDirectory(table: table, id: id))
    }

    package var table: String { directory.table }
    package var id: TableID? { directory.id }
    package var description: String { "\(keyspace).\(table)" }
}
