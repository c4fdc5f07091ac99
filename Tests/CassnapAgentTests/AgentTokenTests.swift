import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// The coordinator token comes from a file or `CASSNAP_AGENT_TOKEN`, so no secret needs a flag
/// that `ps` shows; a token file that cannot be used stops the start with the key and the path.
@Suite struct AgentTokenTests {
    typealias Coordinator = AgentConfiguration.Coordinator

    static func coordinator(token: String? = nil, tokenFile: String? = nil) -> Coordinator {
        var c = Coordinator()
        c.url = "http://127.0.0.1:1"
        c.token = token
        c.tokenFile = tokenFile
        return c
    }

    @Test func theEnvironmentVariableIsRead() throws {
        let environment = ["CASSNAP_AGENT_TOKEN": " from-env\n"]
        #expect(try Self.coordinator().resolvedToken(environment: environment) == "from-env")
        #expect(try Self.coordinator().resolvedToken(environment: [:]) == nil)
        #expect(try Self.coordinator().resolvedToken(environment: ["CASSNAP_AGENT_TOKEN": ""]) == nil)
    }

    @Test func theTokenFileIsReadAndWinsOverTheEnvironment() throws {
        try TemporaryDirectory.with { root in
            let path = root.appendingPathComponent("agent.token").path
            try "from-file\n".write(toFile: path, atomically: true, encoding: .utf8)
            let environment = ["CASSNAP_AGENT_TOKEN": "from-env"]
            #expect(
                try Self.coordinator(tokenFile: path).resolvedToken(environment: environment) == "from-file")
            #expect(
                try Self.coordinator(token: "explicit", tokenFile: path).resolvedToken(
                    environment: environment)
                    == "explicit")
        }
    }

    @Test func aMissingTokenFileIsAnErrorNamingTheKeyAndThePath() throws {
        try TemporaryDirectory.with { root in
            let path = root.appendingPathComponent("no-such.token").path
            let error = #expect(throws: AgentConfigurationError.self) {
                try Self.coordinator(tokenFile: path).resolvedToken(environment: [
                    "CASSNAP_AGENT_TOKEN": "env"
                ])
            }
            #expect(error?.key == "coordinator.token_file")
            #expect(error?.description.contains(path) == true, "\(String(describing: error))")
            #expect(error?.description.contains("No such file or directory") == true)
        }
    }

    @Test func anUnreadableOrEmptyTokenFileIsAnError() throws {
        try TemporaryDirectory.with { root in
            // Tests may run as root, which reads a 0000 file: a directory is unreadable for all.
            let directory = root.appendingPathComponent("a-directory").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let unreadable = #expect(throws: AgentConfigurationError.self) {
                try Self.coordinator(tokenFile: directory).resolvedToken(environment: [:])
            }
            #expect(unreadable?.key == "coordinator.token_file")
            #expect(unreadable?.description.contains(directory) == true)
            #expect(unreadable?.description.contains("cannot be read") == true)

            let empty = root.appendingPathComponent("empty.token").path
            #expect(FileManager.default.createFile(atPath: empty, contents: Data("\n".utf8)))
            let emptyError = #expect(throws: AgentConfigurationError.self) {
                try Self.coordinator(tokenFile: empty).resolvedToken(environment: [:])
            }
            #expect(emptyError?.description.contains("is empty") == true)
        }
    }

    /// `Agent.build` is where the command resolves it: a bad file is a configuration error
    /// (exit 78), and the token from the environment reaches the coordinator link.
    @Test func theAgentResolvesTheTokenAtStart() async throws {
        try await TemporaryDirectory.with { root in
            var configuration = AgentTestSupport.configuration(root: root)
            configuration.coordinator.url = "http://127.0.0.1:1"

            let agent = try await Agent.build(
                configuration: configuration, logger: AgentTestSupport.logger,
                environment: ["CASSNAP_AGENT_TOKEN": "from-env"])
            #expect(agent.coordinatorToken == "from-env")

            configuration.coordinator.tokenFile = root.appendingPathComponent("missing.token").path
            let error = await #expect(throws: AgentConfigurationError.self) {
                _ = try await Agent.build(
                    configuration: configuration, logger: AgentTestSupport.logger,
                    environment: ["CASSNAP_AGENT_TOKEN": "from-env"])
            }
            #expect(error?.key == "coordinator.token_file")
        }
    }
}
