/// A file in a node's shared pool: an SSTable component, or an opaque snapshot file that
/// carries an SSTable's descriptor (SAI, SASI). All snapshots and incremental backups of the
/// node reference pool objects, so a file shared by many snapshots is stored once.
package struct PooledFile: Sendable, Hashable {
    package let host: HostID
    package let table: TableRef
    package let indexName: String?
    package let name: Name
    /// The first 16 hex digits of the file's SHA-256 when the primary key already holds other
    /// bytes (integer generations restart after a node is wiped); nil for the primary key.
    package let collisionSuffix: String?

    package static let collisionMarker = "~sha256-"

    /// What the last key segment names, before any collision suffix.
    package enum Name: Sendable, Hashable {
        case component(SSTableFileName)
        /// An opaque file whose `descriptor` is not nil.
        case opaque(OpaqueFileName)

        package var fileName: String {
            switch self {
            case .component(let file): file.fileName
            case .opaque(let file): file.name
            }
        }

        /// The SSTable the file belongs to, e.g. `nb-42-big`.
        package var sstableName: String {
            switch self {
            case .component(let file): file.sstableName
            case .opaque(let file): file.sstableName ?? ""
            }
        }
    }

    package init(host: HostID, table: TableRef, indexName: String?, file: SSTableFileName)
        throws(ValidationError)
    {
        if let indexName { try CassandraName.validate(indexName, as: .index) }
        if file.descriptor.isTemporary {
            throw .invalid(
                field: .sstableFile, value: file.fileName, reason: "temporary files are never shipped")
        }
        self.init(
            unchecked: host, table: table, indexName: indexName, name: .component(file), collisionSuffix: nil)
    }

    package init(host: HostID, table: TableRef, indexName: String?, opaque file: OpaqueFileName)
        throws(ValidationError)
    {
        if let indexName { try CassandraName.validate(indexName, as: .index) }
        guard file.isPooled else {
            throw .invalid(
                field: .opaqueFile, value: file.name,
                reason: "it does not start with an SSTable descriptor, so it is stored per snapshot")
        }
        self.init(
            unchecked: host, table: table, indexName: indexName, name: .opaque(file), collisionSuffix: nil)
    }

    /// For parts that are already validated.
    private init(
        unchecked host: HostID, table: TableRef, indexName: String?, name: Name, collisionSuffix: String?
    ) {
        self.host = host
        self.table = table
        self.indexName = indexName
        self.name = name
        self.collisionSuffix = collisionSuffix
    }

    /// The live, snapshot or backup SSTable file (or pooled opaque snapshot file) at `path`, as
    /// it goes into `host`'s pool.
    package init(host: HostID, path: DataPath) throws(ObjectKeyError) {
        guard let table = path.table else {
            throw .notPoolable(path: path.relativePath, reason: "it is not inside a table directory")
        }
        do throws(ValidationError) {
            if let file = path.sstable {
                try self.init(host: host, table: table, indexName: path.indexName, file: file)
                return
            }
            if let file = path.opaqueFile {
                try self.init(host: host, table: table, indexName: path.indexName, opaque: file)
                return
            }
        } catch {
            throw .notPoolable(path: path.relativePath, reason: error.description)
        }
        throw .notPoolable(path: path.relativePath, reason: "it is not a shipped SSTable file")
    }

    /// The SSTable component, when the file is one.
    package var file: SSTableFileName? {
        if case .component(let file) = name { file } else { nil }
    }

    package var fileName: String { name.fileName }

    /// The same file under its collision key, derived from its content.
    package func withCollisionSuffix(for sha256: SHA256Digest) -> PooledFile {
        PooledFile(
            unchecked: host, table: table, indexName: indexName, name: name, collisionSuffix: sha256.shortHex)
    }

    package var primary: PooledFile {
        PooledFile(unchecked: host, table: table, indexName: indexName, name: name, collisionSuffix: nil)
    }

    /// The last key segment: the file name plus any collision suffix.
    package var objectName: String {
        name.fileName + (collisionSuffix.map { Self.collisionMarker + $0 } ?? "")
    }

    /// Splits `name~sha256-<16 hex>` into the name and the suffix; nil for a malformed suffix.
    static func splitCollisionSuffix(_ objectName: Substring) -> (name: Substring, suffix: String?)? {
        guard let marker = objectName.range(of: collisionMarker) else { return (objectName, nil) }
        let hex = objectName[marker.upperBound...]
        guard hex.utf8.count == 16, hex.utf8.allSatisfy(CassandraName.isLowercaseHex) else { return nil }
        return (objectName[..<marker.lowerBound], String(hex))
    }

    /// Parses the last segment of a pool key; the caller has validated the other parts.
    static func parsed(
        host: HostID, table: TableRef, indexName: String?, objectName: Substring
    ) -> PooledFile? {
        guard let (base, suffix) = splitCollisionSuffix(objectName) else { return nil }
        let text = String(base)
        let name: Name
        if let file = try? SSTableFileName.parse(text) {
            guard !file.descriptor.isTemporary else { return nil }
            name = .component(file)
        } else if let opaque = try? OpaqueFileName(text), opaque.isPooled {
            name = .opaque(opaque)
        } else {
            return nil
        }
        return PooledFile(
            unchecked: host, table: table, indexName: indexName, name: name, collisionSuffix: suffix)
    }
}
