import NTLM
import NTLMHTTP

/// How ntlmproxy authenticates to one parent proxy.
public enum ParentAuthScheme: String, Hashable, Sendable, CaseIterable {
    /// Whatever the parent offers, NTLM or Negotiate first (Basic only where allowed).
    case auto
    case ntlm
    case negotiate
    case basic
    /// Send no credential (a parent that needs none, or relay mode).
    case none
}

/// One parent proxy of a forward listener.
public struct ParentProxyConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// The name rules refer to it by; `host:port` unless configured.
    public var name: String
    /// Lowercased; an IPv6 address without brackets.
    public var host: String
    public var port: Int
    public var scheme: ParentAuthScheme
    /// The credential for this parent; `nil` uses the listener's default credential.
    public var credential: CredentialConfiguration?
    /// The line of the entry in the file, if it came from one.
    public var line: Int?

    public init(name: String? = nil, host: String, port: Int, scheme: ParentAuthScheme = .auto, credential: CredentialConfiguration? = nil, line: Int? = nil) {
        self.host = host.lowercased()
        self.port = port
        self.name = name ?? Self.authority(host: host.lowercased(), port: port)
        self.scheme = scheme
        self.credential = credential
        self.line = line
    }

    /// `host:port`, brackets around an IPv6 address.
    public static func authority(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String {
        var text = "\(name) (\(Self.authority(host: host, port: port)), \(scheme.rawValue)"
        if let credential { text += ", as \(credential.qualifiedUser)" }
        return text + ")"
    }
}

/// What a forward-proxy client must present, and how its identity is used upstream.
public enum ForwardClientAuthentication: Hashable, Sendable {
    /// Clients send no credential; parents see the configured credential (the default, meant
    /// for a loopback listener).
    case none
    /// Clients must send `Proxy-Authorization: Basic`; ntlmproxy authenticates to the parent
    /// with that user's own credential (NTLM/Negotiate, and Kerberos tickets obtained with the
    /// user's password as `clientCredentialAuthentication` allows), with a connection pool per
    /// client credential. Over plain HTTP the client's password crosses the wire in clear text, so
    /// bind such a listener to loopback or a trusted network.
    case basic(realm: String)
    /// The client's own `Proxy-Authorization` (NTLM/Negotiate) is relayed to the parent over
    /// an upstream connection pinned to that one client connection.
    case relay
}

/// A forward listener's settings: clients use it as their HTTP proxy (`http_proxy=`), it
/// authenticates to the parents (407) and tunnels `CONNECT`.
public struct ForwardConfiguration: Sendable {
    /// Tried in order; the next is used when one cannot be reached (not when it rejects a
    /// credential). Empty: every request goes direct.
    public var parents: [ParentProxyConfiguration]
    /// The credential for parents that name none.
    public var credential: CredentialConfiguration?
    /// Per-host routes (first match wins), before NoProxy and the parent list.
    public var rules: HostRouter
    /// Hosts reached directly, without a parent.
    public var noProxy: NoProxyRules
    /// Which client addresses may use the listener (loopback only when empty).
    public var access: AddressACL
    public var clientAuthentication: ForwardClientAuthentication
    /// How clients' own credentials (`client-auth: basic`) authenticate upstream: `auto`
    /// (the default) adds Kerberos tickets obtained with the client's password, `ntlm` never
    /// uses Kerberos, `kerberos` nothing else (`client-mechanism:`, or `--auth` with
    /// `--client-auth basic`).
    public var clientCredentialAuthentication: CredentialAuthentication
    /// How long a credential a parent rejected is not sent to it again (invariant 7).
    public var lockoutWindow: Duration
    /// How often a parent that could not be reached is tried again in the background.
    public var parentRetryInterval: Duration
    public var connectTimeout: Duration
    /// Idle authenticated connections kept per (parent, credential).
    public var idleConnectionsPerParent: Int
    /// How long an idle authenticated parent connection is kept.
    public var idleConnectionTimeout: Duration
    /// Header fields added to (or replaced in) every request sent upstream (cntlm `Header`).
    public var addHeaders: [HTTPHeaderField]
    /// NTLM variant and flags used toward parents (cntlm `Auth`, NTLMv2 by default).
    public var ntlmPolicy: NTLMInitiatorPolicy
    /// Answer a Basic-only parent with the credential's password (needs the credential's own
    /// `allow-basic`).
    public var allowBasic: Bool

    public init(
        parents: [ParentProxyConfiguration] = [], credential: CredentialConfiguration? = nil,
        rules: HostRouter = HostRouter(rules: []), noProxy: NoProxyRules = .none, access: AddressACL = AddressACL(),
        clientAuthentication: ForwardClientAuthentication = .none, lockoutWindow: Duration = .seconds(300),
        parentRetryInterval: Duration = .seconds(30), connectTimeout: Duration = .seconds(10),
        idleConnectionsPerParent: Int = 64, idleConnectionTimeout: Duration = .seconds(120),
        addHeaders: [HTTPHeaderField] = [], ntlmPolicy: NTLMInitiatorPolicy = .default, allowBasic: Bool = false,
        clientCredentialAuthentication: CredentialAuthentication = CredentialAuthentication(mode: .auto)
    ) {
        self.parents = parents
        self.credential = credential
        self.rules = rules
        self.noProxy = noProxy
        self.access = access
        self.clientAuthentication = clientAuthentication
        self.clientCredentialAuthentication = clientCredentialAuthentication
        self.lockoutWindow = lockoutWindow
        self.parentRetryInterval = parentRetryInterval
        self.connectTimeout = connectTimeout
        self.idleConnectionsPerParent = idleConnectionsPerParent
        self.idleConnectionTimeout = idleConnectionTimeout
        self.addHeaders = addHeaders
        self.ntlmPolicy = ntlmPolicy
        self.allowBasic = allowBasic
    }

    /// Equal for two configurations that route, authenticate and pool alike; listeners with
    /// equal keys share one upstream side (pools, failover state). Contains no secret: a
    /// credential appears by name and user only.
    public var identityKey: String {
        var parts: [String] = parents.map { "\($0.name)=\($0.host):\($0.port)/\($0.scheme.rawValue)/\($0.credential?.name ?? "-")" }
        parts.append("credential=\(credential?.name ?? "-")/\(credential?.qualifiedUser ?? "-")")
        parts.append("rules=\(rules.rules.map { "\($0.pattern)>\($0.target)" })")
        parts.append("noproxy=\(noProxy.patterns.map(\.text))")
        parts.append("access=\(access.rules.map { "\($0.action)\($0.block)" })")
        parts.append("client=\(clientAuthentication)/\(clientCredentialAuthentication) lockout=\(lockoutWindow) retry=\(parentRetryInterval) connect=\(connectTimeout)")
        parts.append("idle=\(idleConnectionsPerParent)/\(idleConnectionTimeout) headers=\(addHeaders.map { "\($0.name):\($0.value)" }) basic=\(allowBasic)")
        parts.append("ntlm=\(ntlmPolicy)")
        return parts.joined(separator: "|")
    }

    /// The parent called `name`.
    public func parent(named name: String) -> ParentProxyConfiguration? {
        parents.first { $0.name == name }
    }

    /// The credential used toward `parent`: its own, else the listener's.
    public func credential(for parent: ParentProxyConfiguration) -> CredentialConfiguration? {
        parent.scheme == .none ? nil : (parent.credential ?? credential)
    }
}

/// A header field as configured (name and value), e.g. cntlm's `Header`.
public struct HTTPHeaderField: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A SOCKS5 listener's settings (cntlm `SOCKS5Proxy`): each SOCKS CONNECT becomes an HTTP
/// `CONNECT` through the forward routing (parents, rules, NoProxy).
public struct SOCKS5Configuration: Sendable {
    public var forward: ForwardConfiguration
    /// RFC 1929 users; empty: no authentication (then keep the listener on loopback).
    public var users: [SOCKS5UserConfiguration]
    /// The forward listener whose settings `forward` is (`via:`), for summaries.
    public var via: String?

    public init(forward: ForwardConfiguration, users: [SOCKS5UserConfiguration] = [], via: String? = nil) {
        self.forward = forward
        self.users = users
        self.via = via
    }
}

/// One RFC 1929 user of a SOCKS5 listener.
public struct SOCKS5UserConfiguration: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var password: Password
    public init(name: String, password: Password) {
        self.name = name
        self.password = password
    }

    public var description: String { "\(name) (password redacted)" }
}

/// A static tunnel (cntlm `Tunnel`): every connection to the listener is forwarded to
/// `host:port` through the forward routing's `CONNECT`.
public struct StaticTunnelConfiguration: Sendable {
    public var forward: ForwardConfiguration
    public var targetHost: String
    public var targetPort: Int
    /// The forward listener whose settings `forward` is (`via:`), for summaries.
    public var via: String?

    public init(forward: ForwardConfiguration, targetHost: String, targetPort: Int, via: String? = nil) {
        self.forward = forward
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.via = via
    }
}
