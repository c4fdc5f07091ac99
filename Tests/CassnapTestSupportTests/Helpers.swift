import Foundation
import Testing

@testable import CassnapTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Builds a node in a fresh temporary directory, runs `body`, removes the directory.
func withNode<T>(
    _ configure: (inout CassandraDataBuilder.Configuration) -> Void = { _ in },
    _ body: (CassandraNodeFixture) throws -> T
) throws -> T {
    try TemporaryDirectory.with(prefix: "cassnap-support") { root in
        var configuration = CassandraDataBuilder.Configuration()
        configuration.workers = 2
        configure(&configuration)
        let node = try CassandraDataBuilder(root: root, configuration: configuration).build()
        return try body(node)
    }
}

func fileStatus(_ url: URL) -> stat? {
    var st = stat()
    return stat(url.path, &st) == 0 ? st : nil
}

func inode(_ url: URL) -> UInt64? { fileStatus(url).map { UInt64($0.st_ino) } }
func linkCount(_ url: URL) -> Int { fileStatus(url).map { Int($0.st_nlink) } ?? 0 }

func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

func names(in url: URL) -> Set<String> {
    Set((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
}

/// Every regular file under `url`, as paths relative to it.
func regularFiles(under url: URL) -> Set<String> {
    var result: Set<String> = []
    let base = url.standardizedFileURL.path
    guard let enumerator = FileManager.default.enumerator(atPath: base) else { return result }
    while let relative = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: base + "/" + relative, isDirectory: &isDirectory),
            !isDirectory.boolValue
        {
            result.insert(relative)
        }
    }
    return result
}

func readText(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

func crc32(of url: URL) throws -> UInt32 { CRC32.checksum(try Data(contentsOf: url)) }

func run(_ arguments: [String], node: CassandraNodeFixture, environment: [String: String] = [:])
    -> FakeNodetool.CommandResult
{
    let dirs = node.dataDirectories.flatMap { ["--data-dir", $0.path] }
    return FakeNodetool.runCommandLine(dirs + arguments, environment: environment)
}

/// Work on its own thread, so it runs even when Swift Testing's cooperative threads are all
/// busy with other (blocking) tests.
final class BackgroundWork<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            result = Result { try body() }
            done.signal()
        }
        thread.start()
    }

    func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
