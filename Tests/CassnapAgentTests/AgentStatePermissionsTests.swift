import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// The state directory and `agent.sqlite` (with its `-wal` and `-shm`) are the agent's alone,
/// under the usual umask 022 too.
@Suite struct AgentStatePermissionsTests {
    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    /// umask is per process: set it only around the code under test, and put it back.
    static func withUmask<T>(_ mask: mode_t, _ body: () async throws -> T) async rethrows -> T {
        let old = umask(mask)
        defer { umask(old) }
        return try await body()
    }

    static func expectPrivate(_ state: AgentState, directory: String) {
        #expect(mode(directory) == 0o700, "state directory")
        for suffix in ["", "-wal", "-shm"] {
            let path = state.path + suffix
            #expect(mode(path) != nil, "\(path) should exist while the database is open")
            #expect(mode(path) == 0o600, "\(path)")
        }
    }

    @Test func aNewStateIsPrivateUnderUmask022() async throws {
        try await TemporaryDirectory.with { root in
            let directory = root.appendingPathComponent("var/lib/cassnap-agent").path
            try await Self.withUmask(0o022) {
                let state = try AgentState(directory: directory)
                // A write goes through the WAL, so SQLite has created -wal and -shm by now.
                try await state.setMeta("probe", "1")
                Self.expectPrivate(state, directory: directory)
            }
        }
    }

    @Test func aWorldReadableStateFromAnOlderAgentIsMadePrivate() async throws {
        try await TemporaryDirectory.with { root in
            let directory = root.appendingPathComponent("state").path
            let database = directory + "/agent.sqlite"
            try await Self.withUmask(0o022) {
                do {
                    let state = try AgentState(directory: directory)
                    try await state.setMeta("probe", "1")
                }
                // What an older agent left after a kill -9: everything readable by all.
                for suffix in ["-wal", "-shm"] where Self.mode(database + suffix) == nil {
                    #expect(FileManager.default.createFile(atPath: database + suffix, contents: nil))
                }
                #expect(chmod(directory, 0o755) == 0)
                for suffix in ["", "-wal", "-shm"] { #expect(chmod(database + suffix, 0o644) == 0) }

                let state = try AgentState(directory: directory)
                #expect(try await state.meta("probe") == "1")
                try await state.setMeta("probe", "2")
                Self.expectPrivate(state, directory: directory)
            }
        }
    }
}
