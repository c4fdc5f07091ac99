import Foundation
import Logging
import Synchronization

/// Keeps every log record a logger made, for tests that check what the agent says and how
/// often. Records at every level (trace included), so a test also sees what is logged too low.
package final class CapturedLog: Sendable {
    package struct Record: Sendable {
        package var level: Logger.Level
        package var message: String
        package var metadata: [String: String]
    }

    private let storage = Mutex<[Record]>([])

    package init() {}

    package var records: [Record] { storage.withLock { $0 } }

    package func records(_ message: String) -> [Record] { records.filter { $0.message == message } }

    package func logger(label: String = "cassnap.test.captured") -> Logger {
        var logger = Logger(label: label) { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ record: Record) { storage.withLock { $0.append(record) } }

    package struct Handler: LogHandler {
        let log: CapturedLog
        package var metadata: Logger.Metadata = [:]
        package var logLevel: Logger.Level = .trace

        package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        package func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
            file: String, function: String, line: UInt
        ) {
            let merged = self.metadata.merging(metadata ?? [:]) { $1 }
            log.append(
                Record(
                    level: level, message: message.description,
                    metadata: merged.mapValues { "\($0)" }))
        }
    }
}
