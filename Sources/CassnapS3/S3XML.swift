import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A small element tree for S3's XML answers (errors, listings, multipart results).
package struct XMLElementNode: Sendable {
    package var name: String
    package var text: String
    package var children: [XMLElementNode]

    package func child(_ name: String) -> XMLElementNode? { children.first { $0.name == name } }
    package func children(_ name: String) -> [XMLElementNode] { children.filter { $0.name == name } }
    /// Text of the first child with that name.
    package subscript(_ name: String) -> String? { child(name)?.text }

    /// Parses a document; nil when it is not well-formed XML.
    package static func parse(_ bytes: [UInt8]) -> XMLElementNode? {
        guard !bytes.isEmpty else { return nil }
        let parser = XMLParser(data: Data(bytes))
        let builder = TreeBuilder()
        parser.delegate = builder
        parser.shouldProcessNamespaces = false
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [XMLElementNode] = []
    var root: XMLElementNode?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        // Namespaced names (`s3:Key`) are reduced to the local name.
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        stack.append(XMLElementNode(name: local, text: "", children: []))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?
    ) {
        guard let done = stack.popLast() else { return }
        if stack.isEmpty {
            root = done
        } else {
            stack[stack.count - 1].children.append(done)
        }
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
