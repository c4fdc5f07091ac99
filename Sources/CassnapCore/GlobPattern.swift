/// A shell-style pattern over a whole string: `*` any run, `?` one character, `[abc]`, `[a-z]`,
/// `[!x]` (or `[^x]`) a set, `\` escapes. There are no path separators in tags, so `*` spans all.
package struct GlobPattern: Sendable, Hashable, StringCodable {
    package let pattern: String
    private let tokens: [Token]

    private enum Token: Sendable, Hashable {
        case literal(Character)
        case anyOne
        case anyRun
        case set(ranges: [ClosedRange<Character>], negated: Bool)
    }

    package init(_ pattern: String) throws(ValidationError) {
        self.pattern = pattern
        self.tokens = try Self.compile(pattern)
    }

    package var description: String { pattern }

    package func matches(_ text: String) -> Bool {
        let characters = Array(text)
        // Iterative matching with one backtrack point for the last `*`: linear-ish, no recursion.
        var t = 0
        var c = 0
        var starToken: Int?
        var starCharacter = 0
        while c < characters.count {
            if t < tokens.count, tokens[t] != .anyRun, Self.matchesOne(tokens[t], characters[c]) {
                t += 1
                c += 1
            } else if t < tokens.count, tokens[t] == .anyRun {
                starToken = t
                starCharacter = c
                t += 1
            } else if let star = starToken {
                t = star + 1
                starCharacter += 1
                c = starCharacter
            } else {
                return false
            }
        }
        while t < tokens.count, tokens[t] == .anyRun { t += 1 }
        return t == tokens.count
    }

    private static func matchesOne(_ token: Token, _ character: Character) -> Bool {
        switch token {
        case .literal(let literal): literal == character
        case .anyOne: true
        case .anyRun: true
        case .set(let ranges, let negated): ranges.contains { $0.contains(character) } != negated
        }
    }

    private static func compile(_ pattern: String) throws(ValidationError) -> [Token] {
        if pattern.isEmpty {
            throw .invalid(field: .globPattern, value: pattern, reason: "must not be empty")
        }
        var tokens: [Token] = []
        var iterator = Array(pattern).makeIterator()
        while let character = iterator.next() {
            switch character {
            case "*": if tokens.last != .anyRun { tokens.append(.anyRun) }
            case "?": tokens.append(.anyOne)
            case "\\":
                guard let escaped = iterator.next() else {
                    throw .invalid(field: .globPattern, value: pattern, reason: "ends with a lone \"\\\"")
                }
                tokens.append(.literal(escaped))
            case "[":
                tokens.append(try compileSet(&iterator, pattern: pattern))
            default:
                tokens.append(.literal(character))
            }
        }
        return tokens
    }

    private static func compileSet(_ iterator: inout IndexingIterator<[Character]>, pattern: String)
        throws(ValidationError) -> Token
    {
        var ranges: [ClosedRange<Character>] = []
        var negated = false
        var first = true
        var pending: Character?
        var inRange = false
        while let character = iterator.next() {
            if first && (character == "!" || character == "^") {
                negated = true
                first = false
                continue
            }
            if character == "]" && !first {
                if let low = pending { ranges.append(low...low) }
                if inRange { ranges.append("-"..."-") }
                guard !ranges.isEmpty else { break }
                return .set(ranges: ranges, negated: negated)
            }
            first = false
            var literal = character
            if character == "\\" {
                guard let escaped = iterator.next() else { break }
                literal = escaped
            } else if character == "-", pending != nil, !inRange {
                inRange = true
                continue
            }
            if inRange, let low = pending {
                guard low <= literal else {
                    throw .invalid(
                        field: .globPattern, value: pattern, reason: "range \(low)-\(literal) is reversed")
                }
                ranges.append(low...literal)
                pending = nil
                inRange = false
            } else {
                if let low = pending { ranges.append(low...low) }
                pending = literal
            }
        }
        throw .invalid(field: .globPattern, value: pattern, reason: "has a \"[\" without a closing \"]\"")
    }
}
