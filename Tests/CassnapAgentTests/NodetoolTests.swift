import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// `Nodetool` runs the node's nodetool through swift-subprocess: output, failures that carry
/// nodetool's own words, PATH lookup, and cancellation that does not leave the child running.
@Suite struct NodetoolTests {
    static func script(_ dir: URL, _ body: String) throws -> String {
        let path = dir.appendingPathComponent("nodetool").path
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test func printsWhatNodetoolPrintedAndFailuresCarryItsMessage() async throws {
        try await TemporaryDirectory.with { dir in
            let ok = Nodetool(executable: try Self.script(dir, "echo \"args: $*\""))
            #expect(try await ok.run(["info", "-T"]) == "args: info -T\n")

            let failing = Nodetool(
                executable: try Self.script(dir, "echo 'nodetool: Failed to connect' >&2; exit 2"))
            await #expect {
                try await failing.run(["status"])
            } throws: { error in
                let text = "\(error)"
                return text.contains("exited with status 2") && text.contains("Failed to connect")
                    && text.contains("status")
            }
        }
    }

    @Test func aBareNameIsFoundInThePath() async throws {
        #expect(try await Nodetool(executable: "sh").run(["-c", "echo from-path"]) == "from-path\n")
    }

    @Test func cancellingTheTaskEndsAHungNodetool() async throws {
        try await TemporaryDirectory.with { dir in
            let pidFile = dir.appendingPathComponent("pid").path
            let hung = Nodetool(executable: try Self.script(dir, "echo $$ > \(pidFile); exec sleep 120"))
            let started = ContinuousClock.now
            let call = Task { try await hung.run(["snapshot"]) }
            var pid: pid_t = 0
            for _ in 0..<100 where pid == 0 {  // at most 10 s for the script to start
                try await Task.sleep(for: .milliseconds(100))
                pid =
                    pid_t(
                        (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(
                            in: .whitespacesAndNewlines) ?? "") ?? 0
            }
            #expect(pid > 0, "the script never started")
            call.cancel()
            let outcome = await call.result
            #expect(throws: (any Error).self) { try outcome.get() }
            #expect(ContinuousClock.now - started < .seconds(60), "the call waited for sleep 120")
            // The child is gone (kill with signal 0 probes it), not left sleeping.
            var alive = true
            for _ in 0..<50 where alive {
                alive = kill(pid, 0) == 0
                if alive { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!alive, "nodetool \(pid) still runs after the cancel")
        }
    }
}
