/// Guards the step where names from the bucket become paths on disk (invariant 7): a key or
/// file name from a manifest is only joined under a restore directory after passing here.
package enum RestorePath {
    /// S3's limit for a key; longer text is not something cassnap wrote.
    package static let maximumBytes = 1024

    /// Checks a relative, "/"-separated path (an object key, or a path under a restore
    /// directory) and returns its segments.
    @discardableResult
    package static func validate(relativePath path: String) throws(ObjectKeyError) -> [Substring] {
        if path.isEmpty { throw .unsafe(key: path, reason: "it is empty") }
        if path.utf8.count > maximumBytes {
            throw .unsafe(key: path, reason: "it is longer than \(maximumBytes) bytes")
        }
        if path.hasPrefix("/") { throw .unsafe(key: path, reason: "it is absolute") }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments {
            try validateSegment(segment, of: path)
        }
        return segments
    }

    /// Checks one file name, e.g. a manifest's `fileName`, before it names a file on disk.
    package static func validate(fileName: String) throws(ObjectKeyError) {
        if fileName.isEmpty { throw .unsafe(key: fileName, reason: "it is empty") }
        try validateSegment(fileName[...], of: fileName)
    }

    /// Joins a validated relative path under `directory`; the result cannot leave `directory`.
    package static func join(directory: String, relativePath: String) throws(ObjectKeyError) -> String {
        try validate(relativePath: relativePath)
        return directory.hasSuffix("/") ? directory + relativePath : directory + "/" + relativePath
    }

    private static func validateSegment(_ segment: Substring, of path: String) throws(ObjectKeyError) {
        if segment.isEmpty {
            throw .unsafe(key: path, reason: "it has an empty segment (\"//\" or a trailing \"/\")")
        }
        if segment == "." || segment == ".." {
            throw .unsafe(key: path, reason: "it has a \(String(segment).quotedForMessage) segment")
        }
        if segment.utf8.count > KeySegment.maximumBytes {
            throw .unsafe(key: path, reason: "a segment is longer than \(KeySegment.maximumBytes) bytes")
        }
        // ASCII (all that cassnap writes) is checked byte by byte; only other scalars need the
        // Unicode tables, which cost a lookup each on the coordinator's ingest path.
        for byte in segment.utf8 where byte < 0x80 {
            if byte == 0 { throw .unsafe(key: path, reason: "it contains a NUL character") }
            if byte == UInt8(ascii: "/") { throw .unsafe(key: path, reason: "a file name contains \"/\"") }
            if byte == UInt8(ascii: "\\") {
                throw .unsafe(key: path, reason: "it contains \"\\\", a path separator on some systems")
            }
            if byte < 0x20 || byte == 0x7F {
                throw .unsafe(key: path, reason: "it contains a control character")
            }
        }
        if segment.utf8.contains(where: { $0 >= 0x80 }),
            segment.unicodeScalars.contains(where: {
                $0.value >= 0x80 && $0.properties.generalCategory == .control
            })
        {
            throw .unsafe(key: path, reason: "it contains a control character")
        }
    }
}
