import Foundation

/// Finds executables built by this package (`fake-nodetool`, `cassnap-agent`, …) from a test.
///
/// SwiftPM puts them in the products directory, which also holds the test bundle
/// (`<products>/cassnapPackageTests.xctest`). `CASSNAP_TEST_BINARIES` overrides the search.
package enum TestBinaries {
    package struct NotFound: Error, CustomStringConvertible {
        package var name: String
        package var searched: [URL]
        package var description: String {
            "\(name) not found in \(searched.map(\.path)); run `swift build` (or `swift build --build-tests`) "
                + "with the same --scratch-path first, or set CASSNAP_TEST_BINARIES to the products directory"
        }
    }

    /// Directories to look in, most specific first.
    package static func candidateDirectories(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [URL] {
        var candidates: [URL] = []
        if let override = environment["CASSNAP_TEST_BINARIES"], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        for path in [CommandLine.arguments.first, Bundle.main.executablePath, Bundle.main.bundlePath]
            .compactMap({ $0 })
        {
            var url = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            // Walk up out of `X.xctest` (a file on Linux, a bundle directory on macOS).
            while url.pathComponents.count > 1 {
                if url.pathExtension == "xctest" {
                    candidates.append(url.deletingLastPathComponent())
                    break
                }
                url.deleteLastPathComponent()
            }
            let direct = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            candidates.append(FS.isDirectory(direct.path) ? direct : direct.deletingLastPathComponent())
        }
        var seen: Set<String> = []
        return candidates.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    /// The built executable `name`, or `NotFound` telling how to build it.
    package static func url(for name: String) throws -> URL {
        let directories = candidateDirectories()
        for directory in directories {
            let url = directory.appendingPathComponent(name)
            if FS.isRegularFile(url.path) && access(url.path, X_OK) == 0 { return url }
        }
        throw NotFound(name: name, searched: directories)
    }
}
