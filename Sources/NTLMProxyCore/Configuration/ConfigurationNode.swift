import Yams

/// A YAML node together with where it is: the file, the key path and (through its mark) the
/// line. Typed accessors throw `ConfigurationError`s that name all three and never echo the
/// value of a secret key.
struct ConfigurationNode {
    /// Keys whose values are secrets: their values never appear in a message.
    static let secretKeys: Set<String> = ["password", "nt-hash"]

    let node: Node
    let keyPath: String
    let file: String
    /// The last key of the path (`backend` for `listeners[0].backend`), if the node is a value.
    let key: String?

    var line: Int? { node.mark?.line }
    var isSecret: Bool { key.map { ConfigurationNode.secretKeys.contains($0) } ?? false }

    func error(_ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: line, keyPath: keyPath, message: message)
    }

    func warning(_ message: String) -> ConfigurationWarning {
        ConfigurationWarning(file: file, line: line, keyPath: keyPath, message: message)
    }

    // MARK: Kinds

    /// A YAML null: `~`, `null`, or nothing at all after the colon.
    var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// `a list`, `a mapping`, `nothing`, or the scalar itself (quoted, or `<redacted>`).
    var foundDescription: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            if isNull { return "nothing" }
            return isSecret ? "<redacted>" : "\"\(ConfigurationNode.shorten(scalar.string))\""
        }
    }

    /// The scalar's text as a message may show it: quoted, shortened, or `<redacted>`.
    var shownValue: String {
        guard case .scalar(let scalar) = node, !isSecret else { return "<redacted>" }
        return "\"\(ConfigurationNode.shorten(scalar.string))\""
    }

    static func shorten(_ text: String) -> String {
        text.count > 80 ? String(text.prefix(80)) + "..." : text
    }

    // MARK: Typed values

    /// Any non-null scalar, as written (`8080` is the string "8080" here).
    func string() throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected a string, found \(foundDescription)") }
        return scalar.string
    }

    /// A non-empty string, leading and trailing whitespace removed.
    func nonEmptyString() throws(ConfigurationError) -> String {
        let value = try string().trimmingASCIIWhitespace()
        guard !value.isEmpty else { throw error("must not be empty") }
        return value
    }

    /// Whether the node is a quoted scalar (`"8080"`, `'true'`).
    var isQuoted: Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .singleQuoted || scalar.style == .doubleQuoted
    }

    /// A plain (unquoted) decimal integer.
    func int() throws(ConfigurationError) -> Int {
        if isQuoted { throw error("expected an integer, found a quoted string \(shownValue) (write numbers without quotes)") }
        guard case .scalar(let scalar) = node, !isNull else {
            throw error("expected an integer, found \(foundDescription)")
        }
        var digits = Substring(scalar.string)
        if digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits) else {
            throw error("expected an integer, found \(foundDescription)")
        }
        return value
    }

    /// An integer in `range`.
    func int(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let value = try int()
        guard range.contains(value) else { throw error("\(value) is out of range (\(range.lowerBound)-\(range.upperBound))") }
        return value
    }

    /// `true`/`false` (also `yes`/`no`, `on`/`off`), unquoted.
    func bool() throws(ConfigurationError) -> Bool {
        if isQuoted { throw error("expected true or false, found a quoted string \(shownValue) (write true or false without quotes)") }
        guard case .scalar(let scalar) = node, !isNull else {
            throw error("expected true or false, found \(foundDescription)")
        }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, found \(foundDescription)")
        }
    }

    /// Seconds as an integer, or a string such as `30s`, `5m`, `250ms`, `1h`.
    func duration() throws(ConfigurationError) -> Duration {
        guard case .scalar(let scalar) = node, !isNull, let value = ConfigurationDuration.parse(scalar.string) else {
            throw error("expected a duration (seconds, or a number with ms, s, m or h, like 30s), found \(foundDescription)")
        }
        guard value > .zero else { throw error("must be greater than zero") }
        return value
    }

    // MARK: Collections

    /// The items of a list.
    func sequence() throws(ConfigurationError) -> [ConfigurationNode] {
        guard case .sequence(let items) = node else { throw error("expected a list, found \(foundDescription)") }
        return items.enumerated().map { index, item in
            ConfigurationNode(node: item, keyPath: "\(keyPath)[\(index)]", file: file, key: nil)
        }
    }

    /// The entries of a mapping; keys must be unique scalars. Unknown keys are checked by the
    /// caller with `ConfigurationMapping.checkKeys`, since what is allowed may depend on a value.
    func mapping() throws(ConfigurationError) -> ConfigurationMapping {
        guard case .mapping(let pairs) = node else { throw error("expected a mapping (key: value), found \(foundDescription)") }
        var entries: [ConfigurationMapping.Entry] = []
        var seen: [String: Int?] = [:]
        for (keyNode, value) in pairs {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigurationError(file: file, line: keyNode.mark?.line, keyPath: keyPath, message: "keys must be plain names")
            }
            let name = keyScalar.string
            let childPath = keyPath.isEmpty ? name : "\(keyPath).\(name)"
            if let first = seen[name] {
                let firstLine = first.map { " (first on line \($0))" } ?? ""
                throw ConfigurationError(file: file, line: keyNode.mark?.line, keyPath: childPath, message: "duplicate key\(firstLine)")
            }
            seen[name] = keyNode.mark?.line
            entries.append(ConfigurationMapping.Entry(
                key: name, keyLine: keyNode.mark?.line,
                value: ConfigurationNode(node: value, keyPath: childPath, file: file, key: name)))
        }
        return ConfigurationMapping(owner: self, entries: entries)
    }
}

/// A YAML mapping's entries in order, with lookups that produce located errors.
struct ConfigurationMapping {
    struct Entry {
        let key: String
        let keyLine: Int?
        let value: ConfigurationNode
    }

    let owner: ConfigurationNode
    let entries: [Entry]

    var keys: [String] { entries.map(\.key) }

    /// The value of `key`, or `nil` when absent. An explicit null (`key:` with nothing) counts
    /// as absent, so commenting out a value works as expected.
    subscript(key: String) -> ConfigurationNode? {
        guard let entry = entries.first(where: { $0.key == key }), !entry.value.isNull else { return nil }
        return entry.value
    }

    /// The value of `key`, or an error at the mapping that names what is missing.
    func required(_ key: String, hint: String = "") throws(ConfigurationError) -> ConfigurationNode {
        if let value = self[key] { return value }
        let path = owner.keyPath.isEmpty ? key : "\(owner.keyPath).\(key)"
        let detail = hint.isEmpty ? "" : " (\(hint))"
        throw ConfigurationError(file: owner.file, line: owner.line, keyPath: path, message: "missing required key\(detail)")
    }

    /// Rejects keys outside `allowed` (typo protection), suggesting the closest allowed one.
    func checkKeys(allowed: [String], context: String = "") throws(ConfigurationError) {
        for entry in entries where !allowed.contains(entry.key) {
            var message = "unknown key \"\(ConfigurationNode.shorten(entry.key))\"\(context)"
            if let suggestion = ConfigurationMapping.closest(to: entry.key, in: allowed) {
                message += "; did you mean \"\(suggestion)\"?"
            }
            message += " (allowed: \(allowed.joined(separator: ", ")))"
            throw ConfigurationError(file: owner.file, line: entry.keyLine, keyPath: entry.value.keyPath, message: message)
        }
    }

    /// The allowed key within edit distance 2 of `key`, if any.
    static func closest(to key: String, in allowed: [String]) -> String? {
        let candidates = allowed.map { ($0, editDistance(key.lowercased(), $0)) }.filter { $0.1 <= 2 }
        return candidates.min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
