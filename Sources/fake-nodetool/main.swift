import CassnapTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// A reader that closes the pipe early (`fake-nodetool listsnapshots | head`) is not an error.
signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
let result =
    arguments.first == "populate"
    ? FakeNodetool.populate(Array(arguments.dropFirst()))
    : FakeNodetool.runCommandLine(arguments, environment: ProcessInfo.processInfo.environment)
FileHandle.standardOutput.write(Data(result.standardOutput.utf8))
FileHandle.standardError.write(Data(result.standardError.utf8))
exit(result.exitCode)
