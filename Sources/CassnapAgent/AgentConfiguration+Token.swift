import CassnapCore
import Foundation

extension AgentConfiguration.Coordinator {
    /// The environment variable that may carry the token (systemd's `EnvironmentFile`), so no
    /// secret needs a flag that `ps` shows.
    package static let tokenVariable = "CASSNAP_AGENT_TOKEN"

    /// The bearer token for the coordinator: `token` (key or `--token`), else the contents of
    /// `tokenFile` (key or `--token-file`), else `CASSNAP_AGENT_TOKEN`; nil when none is set.
    /// Explicit settings win over the inherited environment, and a configured file that cannot
    /// be read is an error rather than a silent fall-through to another source.
    package func resolvedToken(environment: [String: String]) throws(AgentConfigurationError) -> String? {
        if let token, !token.isEmpty { return token }
        if let tokenFile {
            func fail(_ problem: String) -> AgentConfigurationError {
                AgentConfigurationError(
                    source: nil, key: "coordinator.token_file",
                    problem: "\(tokenFile.quotedForMessage) \(problem)")
            }
            let bytes: [UInt8]
            do { bytes = try Self.readTokenFile(tokenFile) } catch {
                throw fail("cannot be read: \(String(cString: strerror(error.code)))")
            }
            let token = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if token.isEmpty { throw fail("is empty") }
            if token.contains(where: \.isNewline) { throw fail("holds more than one line") }
            return token
        }
        let token = environment[Self.tokenVariable]?.trimmingCharacters(in: .whitespacesAndNewlines)
        return token?.isEmpty == false ? token : nil
    }

    /// A token file is small; anything past 64 KiB is not a token.
    private static func readTokenFile(_ path: String) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 16 {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(code: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    private struct ReadError: Error {
        var code: Int32
    }
}
