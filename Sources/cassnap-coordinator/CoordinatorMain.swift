import CassnapCoordinator
import Logging

/// Thin executable: it sets up logging; parsing and work live in CassnapCoordinator.
@main
enum CoordinatorMain {
    static func main() async {
        // The one place logging is set up: the libraries only make loggers (tests make theirs).
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        await CoordinatorCommand.main()
    }
}
