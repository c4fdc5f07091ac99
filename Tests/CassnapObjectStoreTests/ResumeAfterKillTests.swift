import CassnapCrypto
import CassnapGCS
import CassnapObjectStore
import CassnapS3
import CassnapTestSupport
import Foundation
import Testing

/// The uploading process is killed with SIGKILL in the middle of a multipart (S3) or resumable
/// (GCS) upload; a rerun with the same session directory resumes it: only the missing parts
/// are sent, the object is byte-exact and no upload is left dangling.
@Suite struct ResumeAfterKillTests {
    @Test(arguments: StoreKind.cloud)
    func interruptedUploadResumesAfterKill9(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.cleanUp() }
        let partSize = 5 << 20
        let size = 12 * partSize + 12345
        let file = try fixture.makeFile("big-Data.db", size: size, seed: 42)
        let sha = try fixture.sha256(ofFile: file)
        let sessions = fixture.scratch + "/sessions"
        let url: String
        var environment = ProcessInfo.processInfo.environment
        /// Bytes the server has acknowledged so far for the upload in progress.
        let acknowledged: @Sendable () async throws -> Int
        if let s3 = fixture.store as? S3ObjectStore {
            url = "s3://\(s3.configuration.bucket)/conformance"
            environment.merge([
                "AWS_ENDPOINT_URL": try TestServers.requireS3(), "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            ]) { $1 }
            acknowledged = {
                guard let upload = try await s3.incompleteUploads(prefix: "resume/").first,
                    let parts = try await s3.listParts(key: upload.key, uploadID: upload.uploadID)
                else { return 0 }
                return parts.values.reduce(0) { $0 + Int($1.size) }
            }
        } else {
            let gcs = try #require(fixture.store as? GCSObjectStore)
            url = "gs://\(gcs.configuration.bucket)/conformance"
            environment["STORAGE_EMULATOR_HOST"] = try TestServers.requireGCS()
            // The session directory holds the session URI and the committed offset.
            acknowledged = { ResumeAfterKillTests.committedOffset(in: sessions) }
        }
        let arguments = [
            "store", "put", url, "resume/nb-9-big-Data.db", file, "--session-dir", sessions, "--part-size",
            "5",
        ]

        // First run, slowed to 4 MiB/s so it is surely mid-upload when killed.
        let first = Process()
        first.executableURL = try TestBinaries.url(for: "cassnap")
        first.arguments = arguments + ["--bwlimit", "4"]
        first.environment = environment
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()

        var storedBeforeKill = 0
        for _ in 0..<600 where storedBeforeKill < 3 * partSize {  // at most 60 s
            try await Task.sleep(for: .milliseconds(100))
            guard first.isRunning else { break }
            storedBeforeKill = try await acknowledged()
        }
        #expect(first.isRunning, "the first upload finished before it could be killed")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(storedBeforeKill >= 3 * partSize)
        #expect(try await fixture.store.headIfExists(key: "resume/nb-9-big-Data.db") == nil)

        // Second run: same session directory, full speed.
        let second = try Subprocess.run(TestBinaries.url(for: "cassnap"), arguments, environment: environment)
        #expect(second.exitCode == 0, "\(second.standardError)")
        let sent = second.standardOutput.split(separator: "\t").last.flatMap {
            Int($0.dropFirst("sent=".count).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let sentBytes = try #require(sent, "no sent= in \(second.standardOutput)")
        #expect(sentBytes <= size - storedBeforeKill, "resumed upload re-sent parts that were stored")
        #expect(sentBytes > 0)

        let head = try await fixture.store.head(key: "resume/nb-9-big-Data.db")
        #expect(head.size == Int64(size))
        #expect(head.sha256 == sha)
        _ = try await fixture.store.get(key: "resume/nb-9-big-Data.db", to: fixture.scratch + "/back")
        #expect(try fixture.sha256(ofFile: fixture.scratch + "/back") == sha)
        #expect(try await acknowledged() == 0, "an upload was left in progress")
    }

    /// The committed offset a GCS resumable session recorded in a `DirectoryUploadSessionStore`.
    static func committedOffset(in directory: String) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        for name in names where name.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name),
                let entry = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let session = entry["session"] as? String,
                let record = try? JSONSerialization.jsonObject(with: Data(session.utf8)) as? [String: Any],
                let committed = record["committed"] as? Int
            else { continue }
            return committed
        }
        return 0
    }
}
