import CassnapCrypto
import CassnapS3
import CassnapStore
import CassnapTestSupport
import Foundation
import Testing

/// The uploading process is killed with SIGKILL in the middle of a multipart upload; a rerun
/// with the same session directory resumes it: only the missing parts are sent, the object is
/// byte-exact and no upload is left dangling.
@Suite struct ResumeAfterKillTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func multipartUploadResumesAfterKill9() async throws {
        let endpoint = try TestServers.requireS3()
        let fixture = try await StoreFixture.make(.s3Moto)
        defer { fixture.cleanUp() }
        let store = try #require(fixture.store as? S3ObjectStore)
        let bucket = store.configuration.bucket
        let partSize = 5 << 20
        let size = 12 * partSize + 12345
        let file = try fixture.makeFile("big-Data.db", size: size, seed: 42)
        let sha = try fixture.sha256(ofFile: file)
        let sessions = fixture.scratch + "/sessions"
        let url = "s3://\(bucket)/conformance"
        let environment = ProcessInfo.processInfo.environment.merging([
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        ]) { $1 }
        let arguments = ["store", "put", url, "resume/nb-9-big-Data.db", file, "--session-dir", sessions, "--part-size", "5"]

        // First run, slowed to 4 MiB/s so it is surely mid-upload when killed.
        let first = Process()
        first.executableURL = try TestBinaries.url(for: "cassnap")
        first.arguments = arguments + ["--bwlimit", "4"]
        first.environment = environment
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()

        var partsBeforeKill = 0
        for _ in 0..<600 where partsBeforeKill < 3 {  // at most 60 s
            try await Task.sleep(for: .milliseconds(100))
            guard first.isRunning else { break }
            if let upload = try await store.incompleteUploads(prefix: "resume/").first,
                let parts = try await store.listParts(key: upload.key, uploadID: upload.uploadID)
            {
                partsBeforeKill = parts.count
            }
        }
        #expect(first.isRunning, "the first upload finished before it could be killed")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(partsBeforeKill >= 3)
        #expect(try await store.headIfExists(key: "resume/nb-9-big-Data.db") == nil)

        // Second run: same session directory, full speed.
        let second = try Subprocess.run(TestBinaries.url(for: "cassnap"), arguments, environment: environment)
        #expect(second.exitCode == 0, "\(second.standardError)")
        let sent = second.standardOutput.split(separator: "\t").last.flatMap { Int($0.dropFirst("sent=".count).trimmingCharacters(in: .whitespacesAndNewlines)) }
        let sentBytes = try #require(sent, "no sent= in \(second.standardOutput)")
        #expect(sentBytes <= size - partsBeforeKill * partSize, "resumed upload re-sent parts that were stored")
        #expect(sentBytes > 0)

        let head = try await store.head(key: "resume/nb-9-big-Data.db")
        #expect(head.size == Int64(size))
        #expect(head.sha256 == sha)
        _ = try await store.get(key: "resume/nb-9-big-Data.db", to: fixture.scratch + "/back")
        #expect(try fixture.sha256(ofFile: fixture.scratch + "/back") == sha)
        #expect(try await store.incompleteUploads(prefix: "resume/").isEmpty)
    }
}
