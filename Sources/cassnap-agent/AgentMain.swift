import CassnapAgent
import Logging

/// Thin executable: it sets up logging; parsing and work live in CassnapAgent.
@main
enum AgentMain {
    static func main() async {
        // The one place logging is set up: the libraries only make loggers (tests make theirs).
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        await AgentCommand.main()
    }
}
