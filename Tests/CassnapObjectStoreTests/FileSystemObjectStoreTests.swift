import CassnapObjectStore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What only the directory store promises: it never follows a symlink below its root, and its
/// files are not world-readable whatever the umask.
@Suite(.serialized) struct FileSystemObjectStoreTests {
    /// A store at `<scratch>/store` and, beside it, a directory the store must never touch.
    struct Setup {
        let scratch: String
        var root: String { scratch + "/store" }
        var outside: String { scratch + "/outside" }
        let store: FileSystemObjectStore

        init() throws {
            scratch = try StoreFixture.makeScratch()
            store = try FileSystemObjectStore(root: scratch + "/store")
            try FileManager.default.createDirectory(
                atPath: scratch + "/outside", withIntermediateDirectories: true)
            try "secret\n".write(toFile: scratch + "/outside/hostname", atomically: false, encoding: .utf8)
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: scratch) }

        /// Makes `<root>/<relative>` a symlink to `target`, creating its parents.
        func link(_ relative: String, to target: String) throws {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        }

        /// Every entry below `outside`, to show nothing was written or deleted there.
        func outsideEntries() -> [String] {
            (FileManager.default.subpaths(atPath: outside) ?? []).sorted()
        }

        func tmpEntries() -> [String] {
            (try? FileManager.default.contentsOfDirectory(atPath: root + "/.cassnap/tmp")) ?? []
        }
    }

    /// The refusal the contract promises: permanent, naming the key and the link.
    static func isSymlinkRefusal(_ error: any Error, key: String) -> Bool {
        guard let error = error as? ObjectStoreError, case .symlinkBelowRoot(_, let refused, _) = error else {
            return false
        }
        return refused == key && error.isPermanent && "\(error)".contains("symbolic link")
            && "\(error)".contains(key)
    }

    @Test func getAndHeadRefuseALinkAtAnySegment() async throws {
        let s = try Setup()
        defer { s.cleanUp() }
        try s.link("leak", to: s.outside + "/hostname")
        try s.link("ks/dir", to: s.outside)
        for key in ["leak", "ks/dir/hostname"] {
            let target = s.scratch + "/got"
            await #expect { try await s.store.get(key: key, to: target) } throws: {
                Self.isSymlinkRefusal($0, key: key)
            }
            #expect(!FileManager.default.fileExists(atPath: target))
            await #expect { try await s.store.head(key: key) } throws: { Self.isSymlinkRefusal($0, key: key) }
        }
    }

    @Test func putRefusesALinkedDirectoryAndWritesNothingOutside() async throws {
        let s = try Setup()
        defer { s.cleanUp() }
        try s.link("ks/evil", to: s.outside)
        try s.link("ks/file", to: s.outside + "/hostname")
        for key in ["ks/evil/nb-1-big-Data.db", "ks/evil/new/deeper/nb-2-big-Data.db", "ks/file"] {
            await #expect { try await s.store.put(key: key, source: .string("payload")) } throws: {
                Self.isSymlinkRefusal($0, key: key)
            }
        }
        #expect(s.outsideEntries() == ["hostname"])
        #expect(try String(contentsOfFile: s.outside + "/hostname", encoding: .utf8) == "secret\n")
        #expect(s.tmpEntries().isEmpty)
        // A refused key leaves no checksum file behind.
        #expect(!FileManager.default.fileExists(atPath: s.root + "/.cassnap/meta/ks/file.json"))
    }

    @Test func deleteRefusesLinksAndDeletesNothingOutside() async throws {
        let s = try Setup()
        defer { s.cleanUp() }
        try s.link("ks/evil", to: s.outside)
        try s.link("leak", to: s.outside + "/hostname")
        for key in ["ks/evil/hostname", "leak"] {
            await #expect { try await s.store.delete(key: key) } throws: {
                Self.isSymlinkRefusal($0, key: key)
            }
        }
        #expect(s.outsideEntries() == ["hostname"])
        #expect(FileManager.default.fileExists(atPath: s.root + "/leak"))
    }

    @Test func listingNeitherReportsNorEntersLinks() async throws {
        let s = try Setup()
        defer { s.cleanUp() }
        _ = try await s.store.put(key: "ks/t-1/nb-1-big-Data.db", source: .string("real"))
        try s.link("ks/t-1/nb-2-big-Data.db", to: s.outside + "/hostname")
        try s.link("ks/t-2", to: s.outside)
        try s.link("evil", to: s.outside)
        #expect(try await s.store.list(prefix: "").map(\.key) == ["ks/t-1/nb-1-big-Data.db"])
        #expect(try await s.store.list(prefix: "ks/").map(\.key) == ["ks/t-1/nb-1-big-Data.db"])
        #expect(try await s.store.list(prefix: "ks/t-2/").isEmpty)
        #expect(try await s.store.list(prefix: "evil/").isEmpty)
        #expect(try await s.store.list(prefix: "evil/host").isEmpty)
    }

    @Test func checksumFilesAndTempFilesGoThroughTheSameCheck() async throws {
        let s = try Setup()
        defer { s.cleanUp() }
        // A linked directory in the checksum tree: put must not write `x.json` through it,
        // delete must not unlink the file it reaches, head must not trust it.
        try "{}".write(toFile: s.outside + "/x.json", atomically: false, encoding: .utf8)
        try s.link(".cassnap/meta/ks", to: s.outside)
        await #expect { try await s.store.put(key: "ks/x", source: .string("x")) } throws: {
            Self.isSymlinkRefusal($0, key: "ks/x")
        }
        try "x".write(toFile: s.root + "/ks/x", atomically: false, encoding: .utf8)
        await #expect { try await s.store.head(key: "ks/x") } throws: {
            Self.isSymlinkRefusal($0, key: "ks/x")
        }
        await #expect { try await s.store.delete(key: "ks/x") } throws: {
            Self.isSymlinkRefusal($0, key: "ks/x")
        }
        #expect(s.outsideEntries() == ["hostname", "x.json"])
        #expect(try String(contentsOfFile: s.outside + "/x.json", encoding: .utf8) == "{}")
        #expect(FileManager.default.fileExists(atPath: s.root + "/ks/x"), "a refused delete removes nothing")

        // A linked temp directory: no temp file is created through it.
        try FileManager.default.removeItem(atPath: s.root + "/.cassnap/tmp")
        try s.link(".cassnap/tmp", to: s.outside)
        await #expect { try await s.store.put(key: "other", source: .string("y")) } throws: {
            Self.isSymlinkRefusal($0, key: "other")
        }
        #expect(s.outsideEntries() == ["hostname", "x.json"])
        #expect(!FileManager.default.fileExists(atPath: s.root + "/other"))
    }

    @Test func aRootThatIsALinkIsFollowed() async throws {
        let scratch = try StoreFixture.makeScratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: scratch + "/store", withDestinationPath: scratch + "/real")
        let store = try FileSystemObjectStore(root: scratch + "/store")
        _ = try await store.put(key: "ks/a", source: .string("a"))
        #expect(try await store.head(key: "ks/a").size == 1)
        #expect(FileManager.default.fileExists(atPath: scratch + "/real/ks/a"))
        #expect(try await store.list(prefix: "ks/").map(\.key) == ["ks/a"])
    }

    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    /// Under the usual umask 022 the old code made 0644 files in 0755 directories; 077 shows
    /// the modes are set, not left to the umask. (The umask is process-wide: it is changed
    /// only around the store's calls, and this suite runs serialized.)
    @Test(arguments: [0o022, 0o077] as [mode_t])
    func objectsAre0640AndDirectories0750WhateverTheUmask(mask: mode_t) async throws {
        let scratch = try StoreFixture.makeScratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let root = scratch + "/store"
        let previous = umask(mask)
        do {
            defer { umask(previous) }
            let store = try FileSystemObjectStore(root: root)
            _ = try await store.put(key: "ks/t-1/nb-1-big-Data.db", source: .string("data"))
            _ = try await store.put(key: "ks/t-1/nb-1-big-Data.db", source: .string("again"))  // replaces
        }

        for file in ["ks/t-1/nb-1-big-Data.db", ".cassnap/meta/ks/t-1/nb-1-big-Data.db.json"] {
            #expect(Self.mode(root + "/" + file) == 0o640, "\(file)")
        }
        let directories = [
            "", "/ks", "/ks/t-1", "/.cassnap", "/.cassnap/tmp", "/.cassnap/meta", "/.cassnap/meta/ks",
            "/.cassnap/meta/ks/t-1",
        ]
        for directory in directories {
            #expect(Self.mode(root + directory) == 0o750, "\(directory)")
        }
    }

    @Test func anExistingRootKeepsItsMode() throws {
        let scratch = try StoreFixture.makeScratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch + "/store", withIntermediateDirectories: true)
        chmod(scratch + "/store", 0o755)
        _ = try FileSystemObjectStore(root: scratch + "/store")
        #expect(Self.mode(scratch + "/store") == 0o755)
        #expect(Self.mode(scratch + "/store/.cassnap") == 0o750)
    }

    @Test func uploadSessionsAreOwnerOnly() async throws {
        let scratch = try StoreFixture.makeScratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let previous = umask(0o022)
        let sessions: DirectoryUploadSessionStore
        do {
            defer { umask(previous) }
            sessions = try DirectoryUploadSessionStore(directory: scratch + "/sessions")
            try sessions.save(session: "https://upload/secret", key: "a/b", fingerprint: "f")
        }
        #expect(try sessions.session(key: "a/b", fingerprint: "f") == "https://upload/secret")
        #expect(Self.mode(scratch + "/sessions") == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch + "/sessions")
        #expect(files.count == 1)
        for file in files { #expect(Self.mode(scratch + "/sessions/" + file) == 0o600, "\(file)") }
    }
}
