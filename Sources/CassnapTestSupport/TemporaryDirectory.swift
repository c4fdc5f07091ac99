import CassnapCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory under `$TMPDIR` (or `/tmp`), removed by `remove()`.
package struct TemporaryDirectory: Sendable {
    package let url: URL

    package init(prefix: String = "cassnap-test") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw FS.fail("mkdtemp", base) }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        url = URL(fileURLWithPath: path).standardizedFileURL
    }

    package func remove() {
        try? FS.removeTree(url.path)
    }

    /// Runs `body` with a fresh directory and removes it afterwards.
    package static func with<T>(prefix: String = "cassnap-test", _ body: (URL) throws -> T) throws -> T {
        let directory = try TemporaryDirectory(prefix: prefix)
        defer { directory.remove() }
        return try body(directory.url)
    }

    package static func with<T>(prefix: String = "cassnap-test", _ body: (URL) async throws -> T) async throws
        -> T
    {
        let directory = try TemporaryDirectory(prefix: prefix)
        defer { directory.remove() }
        return try await body(directory.url)
    }
}

/// Runs an executable to completion and captures its output (tests of the CLIs and of the
/// fake nodetool as a real process).
package enum Subprocess {
    package struct Result: Sendable {
        package var exitCode: Int32
        package var standardOutput: String
        package var standardError: String
    }

    package static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: URL? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain stderr on another thread so a chatty child never blocks on a full pipe.
        let errorBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        BlockingThreads.shared.submit {
            errorBox.data = stderr.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            exitCode: process.terminationStatus, standardOutput: String(decoding: output, as: UTF8.self),
            standardError: String(decoding: errorBox.data, as: UTF8.self))
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
