/// A small element tree for S3's XML answers (errors, listings, multipart results).
package struct XMLElementNode: Sendable {
    package var name: String
    package var text: String
    package var children: [XMLElementNode]

    package func child(_ name: String) -> XMLElementNode? { children.first { $0.name == name } }
    package func children(_ name: String) -> [XMLElementNode] { children.filter { $0.name == name } }
    /// Text of the first child with that name.
    package subscript(_ name: String) -> String? { child(name)?.text }

    /// Parses a document; nil when it is not well-formed XML (or uses a DTD, which S3 never
    /// does). Namespaced names (`s3:Key`) are reduced to the local name; attributes are read
    /// and ignored.
    package static func parse(_ bytes: [UInt8]) -> XMLElementNode? {
        var parser = XMLTreeParser(bytes)
        return parser.document()
    }
}

/// The XML that object stores answer with: elements, attributes, character data with the five
/// predefined entities and character references, CDATA, comments, processing instructions and
/// a DOCTYPE without internal subset. Our own, so the binaries need neither FoundationXML nor
/// libxml2 (and the ICU it pulls in) on a node.
private struct XMLTreeParser {
    private let b: [UInt8]
    private var i = 0
    private var stack: [(raw: [UInt8], node: XMLElementNode)] = []
    private var root: XMLElementNode?

    init(_ bytes: [UInt8]) { b = bytes }

    mutating func document() -> XMLElementNode? {
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < b.count {
            if b[i] == UInt8(ascii: "<") {
                guard markup() else { return nil }
            } else {
                guard text() else { return nil }
            }
        }
        return stack.isEmpty ? root : nil
    }

    private func at(_ literal: String) -> Bool {
        b[i...].starts(with: literal.utf8)
    }

    /// Moves past the next `terminator`; false when there is none.
    private mutating func skip(past terminator: String) -> Bool {
        let t = Array(terminator.utf8)
        var j = i
        while j + t.count <= b.count {
            if b[j] == t[0] && b[j..<j + t.count].elementsEqual(t) {
                i = j + t.count
                return true
            }
            j += 1
        }
        return false
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

    private static func isNameByte(_ c: UInt8) -> Bool {
        !isSpace(c) && c != UInt8(ascii: ">") && c != UInt8(ascii: "/") && c != UInt8(ascii: "=")
            && c != UInt8(ascii: "<") && c != UInt8(ascii: "\"") && c != UInt8(ascii: "'")
    }

    private mutating func skipSpace() { while i < b.count && Self.isSpace(b[i]) { i += 1 } }

    private mutating func name() -> [UInt8]? {
        let start = i
        while i < b.count && Self.isNameByte(b[i]) { i += 1 }
        return i > start ? Array(b[start..<i]) : nil
    }

    private mutating func markup() -> Bool {
        if at("<?") { return skip(past: "?>") }
        if at("<!--") { return skip(past: "-->") }
        if at("<![CDATA[") {
            guard !stack.isEmpty else { return false }
            let start = i + 9
            i = start
            guard skip(past: "]]>") else { return false }
            stack[stack.count - 1].node.text += String(decoding: b[start..<i - 3], as: UTF8.self)
            return true
        }
        if at("<!") {  // DOCTYPE, only before the root and without an internal subset
            guard root == nil, stack.isEmpty, let end = b[i...].firstIndex(of: UInt8(ascii: ">")),
                !b[i..<end].contains(UInt8(ascii: "["))
            else { return false }
            i = end + 1
            return true
        }
        if at("</") {
            i += 2
            guard let raw = name() else { return false }
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ">"), let open = stack.popLast(), open.raw == raw else {
                return false
            }
            i += 1
            return close(open.node)
        }
        i += 1
        guard root == nil, let raw = name() else { return false }
        guard attributes() else { return false }
        let local = raw.split(separator: UInt8(ascii: ":")).last.map { Array($0) } ?? raw
        let node = XMLElementNode(name: String(decoding: local, as: UTF8.self), text: "", children: [])
        if at("/>") {
            i += 2
            return close(node)
        }
        guard i < b.count, b[i] == UInt8(ascii: ">") else { return false }
        i += 1
        stack.append((raw, node))
        return true
    }

    /// Skips `name="value"` pairs up to `>` or `/>`.
    private mutating func attributes() -> Bool {
        while true {
            skipSpace()
            guard i < b.count else { return false }
            if b[i] == UInt8(ascii: ">") || at("/>") { return true }
            guard name() != nil else { return false }
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "=") else { return false }
            i += 1
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") else { return false }
            let quote = b[i]
            guard let end = b[(i + 1)...].firstIndex(of: quote) else { return false }
            i = end + 1
        }
    }

    private mutating func close(_ node: XMLElementNode) -> Bool {
        if stack.isEmpty {
            guard root == nil else { return false }
            root = node
        } else {
            stack[stack.count - 1].node.children.append(node)
        }
        return true
    }

    /// Character data up to the next `<`; outside the root element only blanks are allowed.
    private mutating func text() -> Bool {
        let start = i
        while i < b.count && b[i] != UInt8(ascii: "<") { i += 1 }
        let chunk = b[start..<i]
        if stack.isEmpty { return chunk.allSatisfy(Self.isSpace) }
        guard let decoded = Self.decodeEntities(chunk) else { return false }
        stack[stack.count - 1].node.text += decoded
        return true
    }

    private static func decodeEntities(_ chunk: ArraySlice<UInt8>) -> String? {
        guard chunk.contains(UInt8(ascii: "&")) else { return String(decoding: chunk, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(chunk.count)
        var j = chunk.startIndex
        while j < chunk.endIndex {
            guard chunk[j] == UInt8(ascii: "&") else {
                out.append(chunk[j])
                j += 1
                continue
            }
            guard let semi = chunk[j...].firstIndex(of: UInt8(ascii: ";")) else { return nil }
            let entity = String(decoding: chunk[(j + 1)..<semi], as: UTF8.self)
            let scalar: Unicode.Scalar?
            switch entity {
            case "amp": scalar = "&"
            case "lt": scalar = "<"
            case "gt": scalar = ">"
            case "quot": scalar = "\""
            case "apos": scalar = "'"
            default:
                if entity.hasPrefix("#x") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                } else {
                    scalar = nil
                }
            }
            guard let scalar else { return nil }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
            j = semi + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

enum XMLText {
    /// Escapes text for element content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // Control characters are only representable as character references.
            case _ where scalar.value < 0x20 && scalar != "\n" && scalar != "\t":
                out += "&#x\(String(scalar.value, radix: 16));"
            case "\r": out += "&#xD;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
