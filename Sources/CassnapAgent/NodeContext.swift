import CassnapCore
import CassnapObjectStore
import CassnapWatcher

/// What the snapshot work and the coordinator link need of this node's agent, and nothing
/// more: who the node is, where its data and its bucket are, its state, and a way to hand
/// files to the ingestor. `Agent.context` builds it; a test can build one around a bare state
/// and store, with any `ingest`.
struct NodeContext: Sendable {
    var host: HostID
    var keys: ObjectKeys
    var dataDirectories: [String]
    var store: any ObjectStore
    var state: AgentState
    /// Records files the caller found itself (a snapshot's listing) as the watcher's would be.
    var ingest: @Sendable ([WatchEvent]) async throws -> Void
}

extension Agent {
    var context: NodeContext {
        NodeContext(
            host: host, keys: keys, dataDirectories: configuration.dataDirectories, store: store,
            state: state,
            ingest: { [ingestor] in try await ingestor.handle($0) })
    }
}
