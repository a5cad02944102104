extension ConfigurationParser {
    static let passThroughKeys = ["backend", "tls-trust-roots", "public-paths", "pins", "pad-401-to"]

    /// `mode: pass-through`: `backend`, `tls-trust-roots`, `public-paths: [/static/, ...]`,
    /// `pins: {max, idle-timeout, max-requests, max-lifetime}`, `pad-401-to`.
    mutating func parsePassThrough(_ map: ConfigurationMapping) throws(ConfigurationError) -> PassThroughConfiguration {
        let backendURL = try backend(try map.required("backend", hint: "http:// or https:// URL of the NTLM/Negotiate origin"))
        var passThrough = PassThroughConfiguration(backend: backendURL)
        if let node = map["tls-trust-roots"] {
            passThrough.trustRootsFile = try existingFile(node, what: "trust roots file")
            if backendURL.scheme != .https { warnings.append(node.warning("ignored: the backend is not https")) }
        }
        if let node = map["public-paths"] {
            for item in try node.sequence() {
                let path = try item.nonEmptyString()
                guard path.hasPrefix("/"), path.allSatisfy({ $0.isASCII && !$0.isWhitespace }), !path.contains("?") else {
                    throw item.error("a public path is a path prefix starting with / (no query), got \(item.shownValue)")
                }
                if path == "/" { warnings.append(item.warning("every path is public: no request is pinned unless it carries NTLM/Negotiate itself")) }
                passThrough.publicPaths.append(path)
            }
        }
        if let node = map["pins"] { passThrough.pins = try parsePinLimits(node) }
        if let node = map["pad-401-to"] { passThrough.pad401To = try node.int(in: 0...65536) }
        return passThrough
    }

    func parsePinLimits(_ node: ConfigurationNode) throws(ConfigurationError) -> PinLimits {
        let map = try node.mapping()
        try map.checkKeys(allowed: ["max", "idle-timeout", "max-requests", "max-lifetime"])
        var limits = PinLimits()
        if let value = map["max"] { limits.maxPins = try value.int(in: 1...1_000_000) }
        if let value = map["idle-timeout"] { limits.idleTimeout = try value.duration() }
        if let value = map["max-requests"] { limits.maxRequests = try value.int(in: 0...1_000_000_000) }
        if let value = map["max-lifetime"] {
            let text = try value.nonEmptyString().lowercased()
            limits.maxLifetime = text == "unlimited" || text == "0" ? nil : try value.duration()
        }
        return limits
    }
}
