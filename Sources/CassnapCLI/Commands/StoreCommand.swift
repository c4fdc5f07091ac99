import ArgumentParser
import CassnapCore
import CassnapObjectStore
import CassnapStoreFactory
import Foundation
import Synchronization

/// Direct access to a backup store, for operators and benchmarks: the same code paths the
/// agent uses, without an agent.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Read and write a backup store directly (s3://, gs://, file://).",
        subcommands: [Put.self, Get.self, List.self, Remove.self, Copy.self]
    )

    struct StoreOptions: ParsableArguments {
        @Argument(help: "Store URL: s3://bucket/prefix, gs://bucket/prefix or file:///path.") var url: String
        @Option(
            name: .customLong("session-dir"),
            help: "Remember multipart uploads here, so a rerun resumes them.")
        var sessionDir: String?
        @Option(name: .customLong("part-size"), help: "Multipart part / resumable chunk size in MiB.")
        var partSizeMiB: Int?
        @Option(
            name: .customLong("bwlimit"), help: "Upload bandwidth limit in MiB/s, shared by all transfers.")
        var bandwidthMiB: Double?

        func open() throws -> any ObjectStore {
            var settings = StoreSettings()
            settings.onRetry = { operation, key, error, attempt in
                FileHandle.standardError.write(
                    Data("cassnap: retrying \(operation) \(key) (attempt \(attempt + 1)): \(error)\n".utf8))
            }
            if let dir = sessionDir {
                settings.sessionStore = try DirectoryUploadSessionStore(directory: dir)
            }
            if let mib = partSizeMiB {
                // S3 parts are 5 MiB to 5 GiB; a larger shift would overflow.
                guard (1...5120).contains(mib) else {
                    throw ValidationError("--part-size \(mib) is not between 1 and 5120 MiB")
                }
                settings.partSize = Int64(mib) << 20
                settings.multipartThreshold = Int64(mib) << 20
            }
            if let rate = bandwidthMiB {
                guard rate.isFinite, rate > 0, rate <= 1_048_576 else {
                    throw ValidationError("--bwlimit \(rate) is not between 0 and 1048576 MiB/s")
                }
                settings.bandwidthBytesPerSecond = Int64(rate * 1_048_576)
            }
            return try ObjectStoreFactory.open(url: url, settings: settings)
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload one file under a key.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Object key.") var key: String
        @Argument(help: "Local file.") var file: String

        func run() async throws {
            // Bytes actually sent: after a resumed upload, less than the file's size.
            let sent = ByteCounter()
            var source = ObjectSource.file(file)
            source.throttle = { sent.add($0) }
            let info = try await withStoreErrors { try await store.open().put(key: key, source: source) }
            print("\(info.key)\t\(info.size)\t\(info.sha256 ?? "-")\tsent=\(sent.value)")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download one object to a file.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Object key.") var key: String
        @Argument(help: "Local file.") var file: String

        func run() async throws {
            let info = try await withStoreErrors { try await store.open().get(key: key, to: file) }
            print("\(info.key)\t\(info.size)\t\(info.sha256 ?? "-")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List objects under a prefix.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Key prefix.") var prefix: String = ""

        func run() async throws {
            for info in try await withStoreErrors({ try await store.open().list(prefix: prefix) }) {
                print("\(info.key)\t\(info.size)\t\(info.sha256 ?? "-")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete objects.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Object keys.") var keys: [String]

        func run() async throws {
            try await withStoreErrors { try await store.open().delete(keys: keys) }
        }
    }

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload every file below a directory (like `rclone copy`).")
        @Argument(help: "Local directory.") var directory: String
        @OptionGroup var store: StoreOptions
        @Option(help: "Key prefix inside the store.") var prefix: String = ""
        @Option(help: "Files uploaded at once.") var transfers: Int = 4

        func run() async throws {
            let uploader = TreeUploader(store: try store.open(), transfers: transfers)
            let summary = try await withStoreErrors {
                try await uploader.upload(directory: directory, prefix: prefix)
            }
            print("uploaded \(summary.files) files, \(summary.bytes) bytes, \(summary.failures.count) failed")
            for failure in summary.failures.prefix(20) { print("failed: \(failure.path): \(failure.error)") }
            if !summary.failures.isEmpty { throw ExitCode(ExitStatus.failure) }
        }
    }
}

final class ByteCounter: Sendable {
    private let total = Atomic<Int64>(0)
    func add(_ n: Int) { total.add(Int64(n), ordering: .relaxed) }
    var value: Int64 { total.load(ordering: .relaxed) }
}

/// Store errors become one clear line and the documented exit code.
func withStoreErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ObjectStoreError {
        FileHandle.standardError.write(Data("cassnap: \(error)\n".utf8))
        throw ExitCode(error.isNotFound ? ExitStatus.notFound : ExitStatus.failure)
    }
}
