import ArgumentParser
import CassnapAPI
import CassnapClient
import CassnapCore
import Foundation

/// A CLI command's connection to the coordinator: resolves URL and token from flags and the
/// environment, and turns every failure into one clear line on stderr plus the documented
/// exit code (`ExitStatus`, in CassnapCore).
package struct CoordinatorSession: Sendable {
    package let client: CoordinatorClient
    package let json: Bool

    package init(
        options: CoordinatorOptions, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws
    {
        let url =
            options.coordinator ?? environment["CASSNAP_COORDINATOR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://127.0.0.1:8420"
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw CLIError.usage("--coordinator \(url.debugDescription) is not an http:// or https:// URL")
        }
        guard let token = options.token ?? environment["CASSNAP_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 })
        else {
            throw CLIError.unauthorized(
                "no token: pass --token or set CASSNAP_TOKEN to the coordinator's admin token")
        }
        let caFile = options.caFile ?? environment["CASSNAP_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw CLIError.usage("--ca-file \(caFile.debugDescription) is not a readable file")
        }
        client = CoordinatorClient(baseURL: url, token: token, caFile: caFile)
        json = options.json
    }

    /// `run` for a body that answers a value.
    package static func runReturning<T: Sendable>(
        _ options: CoordinatorOptions, _ body: (CoordinatorSession) async throws -> T
    ) async throws -> T {
        var result: T?
        try await run(options) { result = try await body($0) }
        return result!
    }

    /// Runs `body` with a session; errors become a message and an exit code.
    package static func run(
        _ options: CoordinatorOptions, _ body: (CoordinatorSession) async throws -> Void
    ) async throws {
        do {
            try await body(try CoordinatorSession(options: options))
        } catch let error as CLIError {
            throw fail(error.message, code: error.exitCode)
        } catch let error as CoordinatorClientError {
            switch error {
            case .api(let status, _, let message):
                let code: Int32 =
                    switch status {
                    case 404: ExitStatus.notFound
                    case 401, 403: ExitStatus.unauthorized
                    case 400..<500: ExitStatus.usage
                    default: ExitStatus.failure
                    }
                throw fail(message, code: code)
            case .unreachable: throw fail(error.description, code: ExitStatus.unavailable)
            case .invalidResponse: throw fail(error.description, code: ExitStatus.failure)
            }
        }
    }

    private static func fail(_ message: String, code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("cassnap: \(message)\n".utf8))
        return ExitCode(code)
    }

    /// JSON with the API's coding, pretty-printed for people who pipe it into `jq`.
    package func printJSON<T: Encodable>(_ value: T) throws {
        print(try JSONOutput.pretty(value))
    }
}

/// How the CLI prints JSON: `--json` pretty-printed (an array may be streamed page by page and
/// reads exactly like one printed at once), `--ndjson` one compact object per line.
package enum JSONOutput {
    package static func pretty<T: Encodable>(_ value: T) throws -> String {
        let encoder = APICoding.encoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func compact<T: Encodable>(_ value: T) throws -> String {
        let encoder = APICoding.encoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Prints a pretty-printed JSON array element by element: `[`, the elements indented as the
    /// encoder nests them, `,` between them, `]`. Text is handed to `write` as it is ready.
    package struct ArrayStream {
        private let write: (String) -> Void
        private var count = 0

        package init(write: @escaping (String) -> Void) { self.write = write }

        package mutating func append<T: Encodable>(contentsOf elements: [T]) throws {
            guard !elements.isEmpty else { return }
            var text = ""
            for element in elements {
                text += count == 0 ? "[\n" : ",\n"
                text += try pretty(element).split(separator: "\n", omittingEmptySubsequences: false)
                    .map { "  " + $0 }.joined(separator: "\n")
                count += 1
            }
            write(text)
        }

        package func finish() throws {
            write(count == 0 ? try pretty([String]()) + "\n" : "\n]\n")
        }
    }
}

/// A CLI-side failure with its exit code.
package struct CLIError: Error, Sendable {
    package var message: String
    package var exitCode: Int32

    package static func usage(_ message: String) -> CLIError {
        CLIError(message: message, exitCode: ExitStatus.usage)
    }
    package static func unauthorized(_ message: String) -> CLIError {
        CLIError(message: message, exitCode: ExitStatus.unauthorized)
    }
}

/// Flag values the CLI parses itself, with errors that name the flag and the value.
package enum FlagValues {
    /// `2026-11-23T02:00:00Z`, with optional fraction and offset.
    package static func instant(_ text: String, flag: String) throws -> Date {
        guard let date = InstantFormat.parse(text) else {
            throw CLIError.usage(
                "\(flag) \(text.debugDescription) is not an ISO 8601 instant such as 2026-11-23T02:00:00Z")
        }
        return date
    }

    /// `30s`, `5m`, `2h`, `1d`, `1m30s` or plain seconds.
    package static func duration(_ text: String, flag: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var total = 0.0
        var number = ""
        var sawUnit = false
        for ch in text {
            if ch.isNumber || ch == "." {
                number.append(ch)
            } else if let unit = units[ch], let value = Double(number) {
                total += value * unit
                number = ""
                sawUnit = true
            } else {
                number = "x"
                break
            }
        }
        if !number.isEmpty {
            guard !sawUnit, let value = Double(number) else {
                throw CLIError.usage(
                    "\(flag) \(text.debugDescription) is not a duration such as 30s, 5m or 1h30m")
            }
            total += value
        }
        guard !text.isEmpty, total > 0 else {
            throw CLIError.usage(
                "\(flag) \(text.debugDescription) is not a positive duration such as 30s, 5m or 1h30m")
        }
        return total
    }
}

/// Plain-text tables: left-aligned columns, two spaces apart.
package struct TextTable {
    package var headers: [String]
    package var rows: [[String]] = []

    package init(_ headers: String...) { self.headers = headers }

    package mutating func add(_ cells: String...) { rows.append(cells) }

    package func render() -> String {
        ([line(headers, widths: widths)] + rows.map { line($0, widths: widths) }).joined(separator: "\n")
    }

    /// Each column's width: its widest cell or header.
    package var widths: [Int] {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], cell.count)
            }
        }
        return widths
    }

    /// The rows alone, padded to `widths` (a cell wider than its column pushes the rest right):
    /// later pages of a table printed page by page keep the first page's columns.
    package func renderRows(widths: [Int]) -> String {
        rows.map { line($0, widths: widths) }.joined(separator: "\n")
    }

    private func line(_ cells: [String], widths: [Int]) -> String {
        cells.enumerated().map { i, cell in
            i == cells.count - 1 || i >= widths.count
                ? cell : cell.padding(toLength: max(widths[i], cell.count), withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
}

package enum Format {
    package static func instant(_ date: Date?) -> String { date.map(InstantFormat.format) ?? "-" }

    package static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : "\(String(format: "%.1f", value)) \(units[unit])"
    }

    package static func seconds(_ s: Double?) -> String {
        guard let s else { return "-" }
        return String(format: "%.3f s", s)
    }
}
