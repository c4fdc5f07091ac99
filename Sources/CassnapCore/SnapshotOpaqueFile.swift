/// An opaque snapshot file without an SSTable descriptor (1.2's `<table>.json`), stored with
/// its snapshot: `nodes/<host-id>/snapshots/<tag>/<ks>/<table-dir>/[.<index>/]<name>`.
///
/// A tag's directory is immutable, but a tag can be cleared and taken again, so the uploader
/// applies the pool's collision rule here too (invariant 3): primary key first, then the key
/// with `~sha256-<16 hex>` when the primary holds other bytes.
package struct SnapshotOpaqueFile: Sendable, Hashable {
    package let host: HostID
    package let tag: SnapshotTag
    package let table: TableRef
    package let indexName: String?
    package let file: OpaqueFileName
    package let collisionSuffix: String?

    package init(host: HostID, tag: SnapshotTag, table: TableRef, indexName: String?, file: OpaqueFileName)
        throws(ValidationError)
    {
        if let indexName { try CassandraName.validate(indexName, as: .index) }
        self.init(
            unchecked: host, tag: tag, table: table, indexName: indexName, file: file, collisionSuffix: nil)
    }

    private init(
        unchecked host: HostID, tag: SnapshotTag, table: TableRef, indexName: String?, file: OpaqueFileName,
        collisionSuffix: String?
    ) {
        self.host = host
        self.tag = tag
        self.table = table
        self.indexName = indexName
        self.file = file
        self.collisionSuffix = collisionSuffix
    }

    package var primary: SnapshotOpaqueFile {
        SnapshotOpaqueFile(
            unchecked: host, tag: tag, table: table, indexName: indexName, file: file, collisionSuffix: nil)
    }

    package func withCollisionSuffix(for sha256: SHA256Digest) -> SnapshotOpaqueFile {
        SnapshotOpaqueFile(
            unchecked: host, tag: tag, table: table, indexName: indexName, file: file,
            collisionSuffix: sha256.shortHex)
    }

    /// The last key segment: the file name plus any collision suffix.
    package var objectName: String {
        file.name + (collisionSuffix.map { PooledFile.collisionMarker + $0 } ?? "")
    }

    /// Parses the last segment of such a key; the caller has validated the other parts.
    static func parsed(
        host: HostID, tag: SnapshotTag, table: TableRef, indexName: String?, objectName: Substring
    ) -> SnapshotOpaqueFile? {
        guard let (base, suffix) = PooledFile.splitCollisionSuffix(objectName),
            let file = try? OpaqueFileName(String(base))
        else { return nil }
        return SnapshotOpaqueFile(
            unchecked: host, tag: tag, table: table, indexName: indexName, file: file, collisionSuffix: suffix
        )
    }
}
