import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// The agent uploads through the file store's `put`, so a symlink planted in the store's root
/// refuses its uploads too, instead of letting them land outside the root.
@Suite struct AgentSymlinkedStoreTests {
    typealias S = AgentTestSupport

    @Test func uploadsIntoALinkedPoolDirectoryAreRefused() async throws {
        try await TemporaryDirectory.with { root in
            let s = try AgentPipelineTests.setup(root, tables: 1, sstables: 1)
            try s.nodetool.snapshot(tag: "first")
            let outside = root.appendingPathComponent("outside").path
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            let bucket = root.appendingPathComponent("bucket").path
            let nodeRoot = bucket + "/" + S.keys.nodeRoot(S.host)
            try FileManager.default.createDirectory(atPath: nodeRoot, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: nodeRoot + "data", withDestinationPath: outside)

            let agent = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            let summary = try await agent.runOnce()
            #expect(!summary.succeeded)
            #expect(FileManager.default.subpaths(atPath: outside) == [], "written outside the store's root")
            // SSTable components go to the pool (`data/`); manifest.json and schema.cql do not.
            let poolKey = S.keys.nodeRoot(S.host) + "data/"
            let shipped = S.expectedFiles(s.roots).filter { $0.value.hasPrefix(poolKey) }.keys
            #expect(!shipped.isEmpty)
            for path in shipped {
                let file = try await agent.state.file(path: path)
                #expect(file?.status == .failed, "\(path)")
                #expect(file?.error?.contains("symbolic link") == true, "\(file?.error ?? "no error")")
            }
        }
    }
}
