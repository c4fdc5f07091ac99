/// A parsed SSTable component file name: `parse(name).fileName == name` for every accepted name.
package struct SSTableFileName: Sendable, Hashable, CustomStringConvertible {
    package var descriptor: SSTableDescriptor
    package var component: SSTableComponent

    package init(descriptor: SSTableDescriptor, component: SSTableComponent) {
        self.descriptor = descriptor
        self.component = component
    }

    package var fileName: String { descriptor.fileName(for: component) }
    package var sstableName: String { descriptor.sstableName }
    package var description: String { fileName }

    /// Linux's limit for one file name.
    package static let maximumBytes = 255

    package static func parse(_ name: String) throws(SSTableNameError) -> SSTableFileName {
        let (descriptor, token) = try parseShape(name)
        let component = try parseComponent(token, format: descriptor.format, name: name)
        return SSTableFileName(descriptor: descriptor, component: component)
    }

    /// The descriptor of a name shaped like an SSTable file whose component cassnap does not
    /// know, e.g. SAI's `nb-1-big-SAI+aa+idx+Meta.db` or SASI's `mc-1-big-SI_idx.db`; nil for
    /// any other name, including a recognised component file.
    package static func descriptor(ofUnknownComponentFile name: String) -> SSTableDescriptor? {
        guard let (descriptor, token) = try? parseShape(name), !token.isEmpty,
            SSTableComponent(rawValue: String(token)) == nil
        else { return nil }
        return descriptor
    }

    /// Splits a name into descriptor and component token without judging the component.
    private static func parseShape(_ name: String) throws(SSTableNameError) -> (SSTableDescriptor, Substring)
    {
        if name.isEmpty { throw .empty }
        if name.utf8.count > maximumBytes {
            throw .notAFileName(name: name, reason: "longer than \(maximumBytes) bytes")
        }
        if name.utf8.contains(UInt8(ascii: "/")) {
            throw .notAFileName(name: name, reason: "contains \"/\"")
        }
        if name.utf8.contains(0) { throw .notAFileName(name: name, reason: "contains a NUL character") }

        // Component names, versions, ids and Cassandra names never contain "-", so the token
        // count alone tells the shapes apart, except that five tokens are either a legacy name or
        // a marked 2.2+ name (`tmp-la-1-big-Data.db`); a legacy generation is always numeric.
        let tokens = name.split(separator: "-", omittingEmptySubsequences: false)
        switch tokens.count {
        case 4:
            return try parseModern(tokens[...], marker: nil, name: name)
        case 5:
            if let marker = SSTableTemporaryMarker(rawValue: String(tokens[0])),
                !tokens[3].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            {
                return try parseModern(tokens[1...], marker: marker, name: name)
            }
            return try parseLegacy(tokens, marker: nil, name: name)
        case 6:
            guard let marker = SSTableTemporaryMarker(rawValue: String(tokens[2])) else {
                throw .unrecognizedShape(name: name)
            }
            return try parseLegacy(
                [tokens[0], tokens[1], tokens[3], tokens[4], tokens[5]], marker: marker, name: name)
        default:
            throw .unrecognizedShape(name: name)
        }
    }

    private static func parseModern(
        _ tokens: ArraySlice<Substring>, marker: SSTableTemporaryMarker?, name: String
    ) throws(SSTableNameError) -> (SSTableDescriptor, Substring) {
        let start = tokens.startIndex
        let version = try parseVersion(tokens[start], name: name)
        let generation = try parseGeneration(tokens[start + 1], name: name)
        guard let format = SSTableFormat(rawValue: String(tokens[start + 2])), format != .legacy else {
            throw .unknownFormat(format: String(tokens[start + 2]), name: name)
        }
        let descriptor = SSTableDescriptor(
            version: version, generation: generation, format: format, temporaryMarker: marker)
        return (descriptor, tokens[start + 3])
    }

    private static func parseLegacy(
        _ tokens: [Substring], marker: SSTableTemporaryMarker?, name: String
    ) throws(SSTableNameError) -> (SSTableDescriptor, Substring) {
        let keyspace = String(tokens[0])
        guard CassandraName.isValid(keyspace) else {
            throw .invalidLegacyName(field: "keyspace", value: keyspace, name: name)
        }
        // Before 2.2 an index's SSTables sit beside the table's, named `<table>.<index>`.
        let tableParts = tokens[1].split(separator: ".", omittingEmptySubsequences: false)
        guard tableParts.count <= 2, tableParts.allSatisfy({ CassandraName.isValid($0) }) else {
            throw .invalidLegacyName(field: "table", value: String(tokens[1]), name: name)
        }
        let version = try parseVersion(tokens[2], name: name)
        let generation = try parseGeneration(tokens[3], name: name)
        guard case .sequence = generation else {
            throw .invalidGeneration(
                generation: String(tokens[3]), name: name,
                reason: "is a time-ordered id, but legacy names only have integer generations")
        }
        let descriptor = SSTableDescriptor(
            version: version, generation: generation, format: .legacy, keyspace: keyspace,
            table: String(tableParts[0]), indexName: tableParts.count == 2 ? String(tableParts[1]) : nil,
            temporaryMarker: marker)
        return (descriptor, tokens[4])
    }

    private static func parseVersion(_ token: Substring, name: String) throws(SSTableNameError) -> String {
        let bytes = Array(token.utf8)
        guard bytes.count == 2, bytes.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) })
        else {
            throw .invalidVersion(version: String(token), name: name)
        }
        return String(token)
    }

    private static func parseGeneration(_ token: Substring, name: String) throws(SSTableNameError)
        -> SSTableGeneration
    {
        do {
            return try SSTableGeneration.parse(token)
        } catch {
            throw .invalidGeneration(generation: String(token), name: name, reason: error.reason)
        }
    }

    private static func parseComponent(_ token: Substring, format: SSTableFormat, name: String)
        throws(SSTableNameError) -> SSTableComponent
    {
        guard let component = SSTableComponent(rawValue: String(token)) else {
            throw .unknownComponent(component: String(token), name: name)
        }
        guard component.belongs(to: format) else {
            throw .componentNotInFormat(component: component, format: format, name: name)
        }
        return component
    }
}
