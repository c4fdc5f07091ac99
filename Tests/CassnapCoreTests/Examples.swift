import Foundation

@testable import CassnapCore

/// The examples in docs/FORMAT.md and Fixtures/, built through the real layout code, so the
/// documentation, the fixtures and the code must all agree.
enum Examples {
    static let cluster = try! ClusterName("prod-eu")
    static let keys = ObjectKeys(cluster: cluster)
    static let host = try! HostID("6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7")
    static let host2 = try! HostID("0b7d9a51-3e2f-4a8c-b6d1-7c9e4f2a8b30")
    static let host3 = try! HostID("c4e81f27-95ab-4d3e-8f60-2a7b1c9d5e84")
    static let tag = try! SnapshotTag("nightly-2024-05-01")
    static let orders = try! TableRef(
        keyspace: "shop", table: "orders", id: TableID("5a1c395e78ef11eebd8a8f5e2d8b3a63"))

    static func digest(_ hex: String) -> SHA256Digest { try! SHA256Digest(hex: hex) }

    static func date(_ text: String) -> Date { InstantFormat.parse(text)! }

    static func pooled(_ fileName: String, index: String? = nil) -> PooledFile {
        try! PooledFile(host: host, table: orders, indexName: index, file: SSTableFileName.parse(fileName))
    }

    static func sstable(
        _ name: String, index: String? = nil, sizes: [Int64], digests: [String], collisionOnData: Bool = false
    ) -> NodeManifest.SSTable {
        let components: [SSTableComponent] = [
            .compressionInfo, .data, .digestCRC32, .filter, .primaryIndex, .statistics, .summary,
            .tableOfContents,
        ]
        let files = zip(components, zip(sizes, digests)).map { component, entry in
            let fileName = "\(name)-\(component.rawValue)"
            let sha = digest(entry.1)
            let file = pooled(fileName, index: index)
            let key =
                collisionOnData && component == .data
                ? keys.collisionKey(for: file, sha256: sha) : keys.primaryKey(for: file)
            return NodeManifest.File(fileName: fileName, size: entry.0, sha256: sha, objectKey: key)
        }
        return NodeManifest.SSTable(name: name, index: index, files: files)
    }

    static let nodeManifest = NodeManifest(
        cluster: cluster,
        node: .init(
            hostID: host, hostname: "cass-eu-1a.example.net", datacenter: "eu-west", rack: "rack1",
            tokens: ["-9223372036854775808", "-4611686018427387904", "0", "4611686018427387904"],
            cassandraVersion: "4.1.5", cassandraClusterName: "Prod EU"),
        tag: tag,
        takenAt: date("2024-05-01T02:00:00.012Z"),
        nodeFiles: [
            .init(
                fileName: "tokens.json", size: 161,
                sha256: digest("c51e455b41df6c017327e16001dd064b8b6733faeaa69b23d9bd79c8079237d5"),
                objectKey: keys.key(for: .nodeTokens(host: host, tag: tag)))
        ],
        tables: [
            .init(
                keyspace: "shop", table: "orders", tableID: orders.id,
                snapshotFiles: [
                    .init(
                        fileName: "manifest.json", size: 187,
                        sha256: digest("05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f"),
                        objectKey: keys.key(
                            for: .tableSnapshotFile(host: host, tag: tag, table: orders, file: .manifest))),
                    .init(
                        fileName: "schema.cql", size: 912,
                        sha256: digest("df0ad6e43880f09c90ebf95f19110178aba6890df0010ebda7485029e2b543b4"),
                        objectKey: keys.key(
                            for: .tableSnapshotFile(host: host, tag: tag, table: orders, file: .schema))),
                ],
                sstables: [
                    sstable(
                        "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-big",
                        sizes: [1_071, 536_870_912, 10, 65_552, 8_388_608, 10_458, 41_943, 92],
                        digests: [
                            "6515cde70e4bc5affd901eadf7153ecb72863469d5225567f73c14a11721d226",
                            "cec3a9b89b2e391393d0f68e4bc12a9fa6cf358b3cdf79496dc442d52b8dd528",
                            "6e2f80bf9cfaabad474fbaf8ad68fdb652f776ea80b63492ecca404e5f6446a6",
                            "638e249f4a15ebb84957da130701d138a6e06d88dceeaa2e6dcd91db70cc1381",
                            "39c3be1198a2fddf18d03608348d9cfaf8823d2dda4d5ff13fdb851bd15d29ea",
                            "a656107e99c71dea1ba101ea816e3886370b68ca9f9ac8e5b2d79c6ffddd70a1",
                            "8e76a94ac8320d515375e625bef1829238b097ecbd33611b59eeefd4ffefebfb",
                            "ecdd3e4a16f4cd304b166ab546e96844bf8f04ac41c8a0db88d27f26e23fe11f",
                        ]),
                    sstable(
                        "nb-7-big", index: "orders_by_customer",
                        sizes: [43, 1_048_576, 10, 2_064, 262_144, 5_237, 1_310, 92],
                        digests: [
                            "2b2cf5be3a47c9ca2f0a000cdb229f9986571f52c12452ba3db44d469be4c3d2",
                            "7b36eb9460953f7adaee6e59192d9a466b662a59807113ba71039e93b167d5f5",
                            "0c1f4de6f3d743af686cc035b62079b0c76751e302b23a09cb79cf1061152f61",
                            "f4b5ca0d0ecf4616ece235e82bc446f569d8768badffb339eaa10a5adc2fba6e",
                            "b52661c59d6493ded4a04355dc2aa56334ed77881b1fa0a2ed6721b80f1f279d",
                            "41f4c695ad181596fc72c013bc23d4f4cd585dd5bb99908439b744a52ddab714",
                            "7627dfaed3d3324dbb9b055b948ec9e7cabfe4462d083a67ac56293285eaf45f",
                            "01ddb53b7720970b6bea7b3a2359bbe5c2d25b9417158f655ff9ba95e77a4c30",
                        ],
                        collisionOnData: true),
                ],
                opaqueFiles: [
                    // SASI (`ColumnIndex.FILE_NAME_FORMAT = "SI_%s.db"`): pooled with its SSTable.
                    .init(
                        fileName: "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-big-SI_orders_by_note.db", size: 20_480,
                        sha256: digest("3d5f0c1a7e9b2468ace13579bdf02468ace13579bdf02468ace13579bdf0246a"),
                        objectKey: keys.primaryKey(
                            for: try! PooledFile(
                                host: host, table: orders, indexName: nil,
                                opaque: OpaqueFileName(
                                    "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-big-SI_orders_by_note.db"))))
                ])
        ])

    static let legacyHost = try! HostID("3c9d2b7e-1f4a-4e6b-8a5c-9d0e1f2a3b4c")
    static let legacyTag = try! SnapshotTag("before-upgrade")
    static let events = try! TableRef(keyspace: "metrics", directory: TableDirectory(parsing: "events"))

    /// A Cassandra 1.2 node with a leveled-compaction table: no table id, no snapshot
    /// `manifest.json`/`schema.cql`, and the leveled manifest `events.json` stored per snapshot.
    static let legacyNodeManifest = NodeManifest(
        cluster: cluster,
        node: .init(
            hostID: legacyHost, hostname: "cass-legacy-1.example.net", datacenter: "eu-west", rack: "rack1",
            tokens: ["85070591730234615865843651857942052864"], cassandraVersion: "1.2.19"),
        tag: legacyTag,
        takenAt: date("2024-05-01T02:00:00.020Z"),
        nodeFiles: [
            .init(
                fileName: "tokens.json", size: 58,
                sha256: digest("9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"),
                objectKey: keys.key(for: .nodeTokens(host: legacyHost, tag: legacyTag)))
        ],
        tables: [
            .init(
                keyspace: "metrics", table: "events", tableID: nil, snapshotFiles: [],
                sstables: [
                    .init(
                        name: "metrics-events-ic-5",
                        files: [
                            (
                                "Data.db", Int64(65_536),
                                "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
                            ),
                            (
                                "Index.db", 4_096,
                                "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1"
                            ),
                        ].map { component, size, sha in
                            let fileName = "metrics-events-ic-5-\(component)"
                            let file = try! PooledFile(
                                host: legacyHost, table: events, indexName: nil,
                                file: SSTableFileName.parse(fileName))
                            return NodeManifest.File(
                                fileName: fileName, size: size, sha256: digest(sha),
                                objectKey: keys.primaryKey(for: file))
                        })
                ],
                opaqueFiles: [
                    .init(
                        fileName: "events.json", size: 214,
                        sha256: digest("c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2"),
                        objectKey: keys.primaryKey(
                            for: try! SnapshotOpaqueFile(
                                host: legacyHost, tag: legacyTag, table: events, indexName: nil,
                                file: OpaqueFileName("events.json"))))
                ])
        ])

    static let clusterSnapshot = ClusterSnapshotRecord(
        id: try! SnapshotID("9b2e7c14-5f3a-4d8e-a1c6-0e4b7d2f9a35"),
        cluster: cluster, tag: tag,
        requestedAt: date("2024-05-01T02:00:00.000Z"),
        deadline: date("2024-05-01T03:00:00.000Z"),
        status: .partial,
        keyspaces: ["shop"], tables: [],
        nodes: [
            .init(
                hostID: host, hostname: "cass-eu-1a.example.net", datacenter: "eu-west", rack: "rack1",
                status: .complete, takenAt: date("2024-05-01T02:00:00.012Z"),
                manifestKey: keys.key(for: .nodeManifest(host: host, tag: tag))),
            .init(
                hostID: host2, hostname: "cass-eu-1b.example.net", datacenter: "eu-west", rack: "rack2",
                status: .complete, takenAt: date("2024-05-01T02:00:00.047Z"),
                manifestKey: keys.key(for: .nodeManifest(host: host2, tag: tag))),
            .init(
                hostID: host3, hostname: "cass-eu-1c.example.net", datacenter: "eu-west", rack: "rack3",
                status: .failed, error: "nodetool snapshot exited with status 2: Connection refused"),
        ])
}
