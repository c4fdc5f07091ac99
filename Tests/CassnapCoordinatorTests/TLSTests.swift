import CassnapAPI
import CassnapClient
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

/// Issue 11: the coordinator serves HTTPS itself; the agent's and the CLI's client verify it
/// against a CA file (libcurl CAINFO). The CA and the certificate are made here by `openssl`.
@Suite struct TLSTests {
    /// A CA, and a certificate it signed for 127.0.0.1 and localhost.
    struct Certificates {
        var ca: String
        var cert: String
        var key: String
        var otherCA: String
    }

    static func makeCertificates(in dir: URL) throws -> Certificates {
        let openssl = URL(fileURLWithPath: "/usr/bin/openssl")
        func run(_ arguments: [String]) throws {
            let result = try Subprocess.run(openssl, arguments, currentDirectory: dir)
            guard result.exitCode == 0 else {
                throw TimedOut(what: "openssl \(arguments.joined(separator: " ")): \(result.standardError)")
            }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try run(
            ["req", "-x509"] + ec + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cassnap test CA",
            ])
        try run(
            ["req", "-x509"] + ec + [
                "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=another CA",
            ])
        try run(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
            to: dir.appendingPathComponent("ext.cnf"), atomically: true, encoding: .utf8)
        try run([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out",
            "server.pem", "-days", "2", "-extfile", "ext.cnf",
        ])
        return Certificates(
            ca: dir.appendingPathComponent("ca.pem").path,
            cert: dir.appendingPathComponent("server.pem").path,
            key: dir.appendingPathComponent("server.key").path,
            otherCA: dir.appendingPathComponent("other.pem").path)
    }

    @Test func theCoordinatorServesHTTPSThatClientsVerifyAgainstTheirCAFile() async throws {
        try await TemporaryDirectory.with { dir in
            let certs = try Self.makeCertificates(in: dir)
            var c = configuration(directory: dir)
            c.tls.certFile = certs.cert
            c.tls.keyFile = certs.key
            let coordinator = try await InProcessCoordinator.start(c, store: InMemoryObjectStore())
            defer { Task { await coordinator.stop() } }
            let https = "https://127.0.0.1:\(coordinator.port)"

            let trusted = CoordinatorClient(baseURL: https, token: adminToken, caFile: certs.ca)
            #expect(try await trusted.nodes().isEmpty)
            let node = try SimulatedNode(
                index: 1, baseURL: https, store: InMemoryObjectStore(), caFile: certs.ca)
            try await node.join()
            #expect(try await trusted.nodes().count == 1, "an agent's client registered over HTTPS")

            // Another CA, or none: the certificate is refused, nothing is sent.
            for caFile in [certs.otherCA, nil] {
                await #expect {
                    _ = try await CoordinatorClient(baseURL: https, token: adminToken, caFile: caFile).nodes()
                } throws: { error in
                    guard case CoordinatorClientError.unreachable(_, let detail) = error else { return false }
                    return detail.lowercased().contains("certificate") || detail.lowercased().contains("ssl")
                }
            }
            // Plain HTTP to the HTTPS port gets no answer.
            await #expect(throws: CoordinatorClientError.self) {
                _ = try await CoordinatorClient(
                    baseURL: "http://127.0.0.1:\(coordinator.port)", token: adminToken
                ).nodes()
            }

            // The CLI's --ca-file.
            let listed = try await cassnap(["nodes", "--json", "--ca-file", certs.ca], coordinator: https)
            #expect(listed.exitCode == 0, "\(listed.standardError)")
            let refused = try await cassnap(["nodes"], coordinator: https)
            #expect(refused.exitCode == 69, "\(refused.exitCode) \(refused.standardError)")
            await coordinator.stop()
        }
    }

    @Test func plainHTTPBeyondLoopbackIsRefusedUnlessAllowedAndBadTLSFilesAreNamed() throws {
        try TemporaryDirectory.with { dir in
            var c = configuration(directory: dir)
            c.listen = "0.0.0.0:0"
            let error = #expect(throws: ConfigurationError.self) { try c.validate() }
            #expect(error?.field == "listen")
            #expect(error?.message.contains("tls.cert_file") == true, "\(error?.message ?? "")")
            c.allowPlainHTTP = true
            try c.validate()

            var t = configuration(directory: dir)
            t.tls.certFile = dir.appendingPathComponent("missing.pem").path
            let missing = #expect(throws: ConfigurationError.self) { try t.validate() }
            #expect(missing?.field == "tls.cert_file")
            let notPEM = dir.appendingPathComponent("not.pem")
            try "hello".write(to: notPEM, atomically: true, encoding: .utf8)
            t.tls.certFile = notPEM.path
            t.tls.keyFile = notPEM.path
            try t.validate()
            let unreadable = #expect(throws: ConfigurationError.self) {
                _ = try buildApplication(configuration: t, store: InMemoryObjectStore())
            }
            #expect(unreadable?.field == "tls.cert_file", "\(unreadable.map(String.init(describing:)) ?? "")")
        }
    }
}
