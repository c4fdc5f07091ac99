import Foundation

/// One tag on every node, taken at one scheduled instant: `snapshots/<tag>.json`.
/// With the node manifests it names, it is enough to list, verify and restore the snapshot,
/// and to rebuild the coordinator's catalog (invariant 5). Schema: docs/FORMAT.md.
package struct ClusterSnapshotRecord: Sendable, Hashable, Codable {
    package static let document = "cluster snapshot record"
    package static let currentFormatVersion = FormatVersion(major: 1, minor: 0)

    package var formatVersion: FormatVersion
    package var id: SnapshotID
    package var cluster: ClusterName
    package var tag: SnapshotTag
    /// The instant every node was asked to snapshot at.
    package var requestedAt: Date
    /// After this instant, nodes still pending make the snapshot partial (or failed).
    package var deadline: Date?
    package var status: Status
    /// Keyspaces included; empty means all.
    package var keyspaces: [String]
    /// `keyspace.table` names included; empty means all tables of the included keyspaces.
    package var tables: [String]
    package var nodes: [NodeEntry]

    package enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Not every node has reported yet and the deadline has not passed.
        case pending
        /// Every expected node's manifest is stored and verified.
        case complete
        /// The deadline passed with some nodes complete and others missing or failed.
        case partial
        /// No node completed.
        case failed
    }

    package enum NodeStatus: String, Sendable, Hashable, Codable, CaseIterable {
        case pending, complete, failed
    }

    package struct NodeEntry: Sendable, Hashable, Codable {
        package var hostID: HostID
        package var hostname: String?
        package var datacenter: String?
        package var rack: String?
        package var status: NodeStatus
        /// When the node actually ran `nodetool snapshot`, by its clock.
        package var takenAt: Date?
        /// Full key of the node manifest; present once the node is complete.
        package var manifestKey: String?
        /// Why the node failed, for operators.
        package var error: String?

        package init(
            hostID: HostID, hostname: String? = nil, datacenter: String? = nil, rack: String? = nil,
            status: NodeStatus, takenAt: Date? = nil, manifestKey: String? = nil, error: String? = nil
        ) {
            self.hostID = hostID
            self.hostname = hostname
            self.datacenter = datacenter
            self.rack = rack
            self.status = status
            self.takenAt = takenAt.map(InstantFormat.normalized)
            self.manifestKey = manifestKey
            self.error = error
        }

        private enum CodingKeys: String, CodingKey {
            case hostID = "hostId", hostname, datacenter, rack, status, takenAt, manifestKey, error
        }
    }

    package init(
        formatVersion: FormatVersion = currentFormatVersion, id: SnapshotID, cluster: ClusterName,
        tag: SnapshotTag,
        requestedAt: Date, deadline: Date? = nil, status: Status, keyspaces: [String] = [],
        tables: [String] = [],
        nodes: [NodeEntry]
    ) {
        self.formatVersion = formatVersion
        self.id = id
        self.cluster = cluster
        self.tag = tag
        self.requestedAt = InstantFormat.normalized(requestedAt)
        self.deadline = deadline.map(InstantFormat.normalized)
        self.status = status
        self.keyspaces = keyspaces
        self.tables = tables
        self.nodes = nodes
    }

    /// The spread between the earliest and latest actual node instants: how "point in time"
    /// this snapshot really is.
    package var spread: TimeInterval? {
        let instants = nodes.compactMap(\.takenAt)
        guard let first = instants.min(), let last = instants.max() else { return nil }
        return last.timeIntervalSince(first)
    }

    /// The status the design defines for these node states.
    package static func status(of nodes: [NodeEntry], deadlinePassed: Bool) -> Status {
        status(
            nodes: nodes.count, complete: nodes.filter { $0.status == .complete }.count,
            pending: nodes.filter { $0.status == .pending }.count, deadlinePassed: deadlinePassed)
    }

    /// The same from counts of the nodes, for a catalog that counts them in SQL.
    package static func status(nodes: Int, complete: Int, pending: Int, deadlinePassed: Bool) -> Status {
        if nodes > 0 && complete == nodes { return .complete }
        if !deadlinePassed && pending > 0 { return .pending }
        return complete > 0 ? .partial : .failed
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, id, cluster, tag, requestedAt, deadline, status, keyspaces, tables, nodes
    }

    package init(from decoder: any Decoder) throws {
        let version = try ManifestCoding.checkFormatVersion(
            in: decoder, document: Self.document, supportedMajor: Self.currentFormatVersion.major)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            formatVersion: version,
            id: try container.decode(SnapshotID.self, forKey: .id),
            cluster: try container.decode(ClusterName.self, forKey: .cluster),
            tag: try container.decode(SnapshotTag.self, forKey: .tag),
            requestedAt: try container.decode(Date.self, forKey: .requestedAt),
            deadline: try container.decodeIfPresent(Date.self, forKey: .deadline),
            status: try container.decode(Status.self, forKey: .status),
            keyspaces: try container.decodeIfPresent([String].self, forKey: .keyspaces) ?? [],
            tables: try container.decodeIfPresent([String].self, forKey: .tables) ?? [],
            nodes: try container.decode([NodeEntry].self, forKey: .nodes))
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(formatVersion, forKey: .formatVersion)
        try container.encode(id, forKey: .id)
        try container.encode(cluster, forKey: .cluster)
        try container.encode(tag, forKey: .tag)
        try container.encode(requestedAt, forKey: .requestedAt)
        try container.encodeIfPresent(deadline, forKey: .deadline)
        try container.encode(status, forKey: .status)
        // Empty filters mean "everything" and are left out, as a reader would expect.
        if !keyspaces.isEmpty { try container.encode(keyspaces, forKey: .keyspaces) }
        if !tables.isEmpty { try container.encode(tables, forKey: .tables) }
        try container.encode(nodes, forKey: .nodes)
    }
}

extension ClusterSnapshotRecord {
    package func encoded() -> Data { ManifestCoding.encode(self) }

    package static func decode(from data: Data) throws(ManifestError) -> ClusterSnapshotRecord {
        let record = try ManifestCoding.decode(ClusterSnapshotRecord.self, from: data, document: document)
        try record.validate()
        return record
    }

    package func validate() throws(ManifestError) {
        func invalid(_ detail: String) -> ManifestError {
            .invalidContent(document: Self.document, detail: detail)
        }
        for (i, keyspace) in keyspaces.enumerated() {
            do { try CassandraName.validate(keyspace, as: .keyspace) } catch {
                throw invalid("keyspaces[\(i)]: \(error)")
            }
        }
        for (i, qualified) in tables.enumerated() {
            let parts = qualified.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ CassandraName.isValid($0) }) else {
                throw invalid(
                    "tables[\(i)]: "
                        + ValidationError.invalid(
                            field: .qualifiedTable, value: qualified, reason: "expected <keyspace>.<table>"
                        ).description)
            }
        }
        var seen: Set<HostID> = []
        for (i, node) in nodes.enumerated() {
            guard seen.insert(node.hostID).inserted else {
                throw invalid("nodes[\(i)]: host \(node.hostID) is listed twice")
            }
            if let key = node.manifestKey {
                do { try RestorePath.validate(relativePath: key) } catch {
                    throw invalid("nodes[\(i)].manifestKey: \(error)")
                }
            }
            if node.status == .complete && (node.manifestKey == nil || node.takenAt == nil) {
                throw invalid("nodes[\(i)]: a complete node needs manifestKey and takenAt")
            }
        }
    }
}
