/// An SSTable file in a node's shared pool. All snapshots and incremental backups of the node
/// reference pool objects, so a file shared by many snapshots is stored once.
package struct PooledFile: Sendable, Hashable {
    package let host: HostID
    package let table: TableRef
    package let indexName: String?
    package let file: SSTableFileName
    /// The first 16 hex digits of the file's SHA-256 when the primary key already holds other
    /// bytes (integer generations restart after a node is wiped); nil for the primary key.
    package let collisionSuffix: String?

    package static let collisionMarker = "~sha256-"

    package init(host: HostID, table: TableRef, indexName: String?, file: SSTableFileName)
        throws(ValidationError)
    {
        if let indexName { try CassandraName.validate(indexName, as: .index) }
        if file.descriptor.isTemporary {
            throw .invalid(
                field: .sstableFile, value: file.fileName, reason: "temporary files are never shipped")
        }
        self.init(unchecked: host, table: table, indexName: indexName, file: file, collisionSuffix: nil)
    }

    /// For parts that are already validated.
    private init(
        unchecked host: HostID, table: TableRef, indexName: String?, file: SSTableFileName,
        collisionSuffix: String?
    ) {
        self.host = host
        self.table = table
        self.indexName = indexName
        self.file = file
        self.collisionSuffix = collisionSuffix
    }

    /// The live, snapshot or backup SSTable file at `path`, as it goes into `host`'s pool.
    package init(host: HostID, path: DataPath) throws(ObjectKeyError) {
        guard let file = path.sstable, let table = path.table else {
            throw .notPoolable(path: path.relativePath, reason: "it is not a shipped SSTable component file")
        }
        do {
            try self.init(host: host, table: table, indexName: path.indexName, file: file)
        } catch {
            throw .notPoolable(path: path.relativePath, reason: error.description)
        }
    }

    /// The same file under its collision key, derived from its content.
    package func withCollisionSuffix(for sha256: SHA256Digest) -> PooledFile {
        PooledFile(
            unchecked: host, table: table, indexName: indexName, file: file, collisionSuffix: sha256.shortHex)
    }

    package var primary: PooledFile {
        PooledFile(
            unchecked: host, table: table, indexName: indexName, file: file, collisionSuffix: nil)
    }

    /// The last key segment: the SSTable file name plus any collision suffix.
    package var objectName: String {
        file.fileName + (collisionSuffix.map { Self.collisionMarker + $0 } ?? "")
    }

    private static func parse(objectName: Substring) -> (SSTableFileName, String?)? {
        var name = objectName
        var suffix: String?
        if let marker = objectName.range(of: collisionMarker) {
            let hex = objectName[marker.upperBound...]
            guard hex.utf8.count == 16, hex.utf8.allSatisfy(CassandraName.isLowercaseHex) else { return nil }
            suffix = String(hex)
            name = objectName[..<marker.lowerBound]
        }
        guard let file = try? SSTableFileName.parse(String(name)), !file.descriptor.isTemporary else {
            return nil
        }
        return (file, suffix)
    }

    /// Parses the last segment of a pool key; the caller has validated the other parts.
    static func parsed(
        host: HostID, table: TableRef, indexName: String?, objectName: Substring
    ) -> PooledFile? {
        guard let (file, suffix) = parse(objectName: objectName) else { return nil }
        return PooledFile(
            unchecked: host, table: table, indexName: indexName, file: file, collisionSuffix: suffix)
    }
}
