import Foundation

/// The AWS shared `credentials` and `config` files: INI sections of `key = value`.
/// In `config` a profile's section is `[profile name]` (only `[default]` stands alone); in
/// `credentials` it is `[name]`.
package struct AWSConfigFile: Sendable, Equatable {
    package var sections: [String: [String: String]]

    package init(sections: [String: [String: String]] = [:]) { self.sections = sections }

    /// Parses the text; `isConfigFile` turns `[profile x]` into profile `x`.
    package init(text: String, isConfigFile: Bool) {
        var sections: [String: [String: String]] = [:]
        var current: String? = nil
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else {
                    current = nil
                    continue
                }
                var name = line[line.index(after: line.startIndex)..<close].trimmingCharacters(
                    in: .whitespaces)
                if isConfigFile {
                    if name.hasPrefix("profile ") || name.hasPrefix("profile\t") {
                        name = String(name.dropFirst("profile".count)).trimmingCharacters(in: .whitespaces)
                    } else if name != "default" {
                        current = nil  // e.g. [sso-session x], [services x]: not a profile
                        continue
                    }
                }
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            // Indented lines continue a nested block (`s3 =\n  addressing_style = path`); we skip them.
            if rawLine.first == " " || rawLine.first == "\t" { continue }
            guard let section = current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // Inline comments need whitespace before the marker.
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let r = value.range(of: marker) {
                    value = value[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                }
            }
            sections[section]?[key] = value
        }
        self.sections = sections
    }

    /// Reads the file; nil when it does not exist.
    package static func load(path: String, isConfigFile: Bool) throws -> AWSConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AWSCredentialsError.invalid(provider: "shared config", reason: "cannot read \(path)")
        }
        return AWSConfigFile(text: String(decoding: data, as: UTF8.self), isConfigFile: isConfigFile)
    }

    package func profile(_ name: String) -> [String: String]? { sections[name] }
}

/// Where the shared files are and which profile to use, from the environment as the AWS SDKs
/// read it: `AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`, `HOME`.
package struct AWSSharedFiles: Sendable, Equatable {
    package var profile: String
    package var credentialsPath: String
    package var configPath: String

    package init(profile: String, credentialsPath: String, configPath: String) {
        self.profile = profile
        self.credentialsPath = credentialsPath
        self.configPath = configPath
    }

    package init(environment: [String: String]) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        func expand(_ path: String) -> String {
            path.hasPrefix("~/") ? home + path.dropFirst(1) : path
        }
        profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        credentialsPath = expand(
            environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
                ?? "~/.aws/credentials")
        configPath = expand(
            environment["AWS_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "~/.aws/config")
    }

    /// The profile's `region` from the config file, if any.
    package func region() -> String? {
        guard let config = try? AWSConfigFile.load(path: configPath, isConfigFile: true) else { return nil }
        return config.profile(profile)?["region"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
