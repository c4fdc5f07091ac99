extension String {
    /// The longest excerpt of an untrusted name that an error message repeats.
    package static let messageExcerptLimit = 80

    /// Renders untrusted text (file names, object keys, tags) for an error message: quoted,
    /// invisible and control characters escaped, and cut after `messageExcerptLimit` characters,
    /// so a 4 KiB or binary name can neither flood nor forge a log line.
    package var quotedForMessage: String {
        var out = "\""
        var count = 0
        for scalar in unicodeScalars {
            if count == Self.messageExcerptLimit {
                return out + "…\" (\(utf8.count) bytes)"
            }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\0": out += "\\0"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned,
                    .privateUse:
                    out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
