/// A failed GSSAPI call: its major and minor status and the library's own text for both.
struct GSSStatus: Error, Sendable, CustomStringConvertible {
    /// What was being done, e.g. "acquiring a credential for alice".
    var operation: String
    var major: UInt32
    var minor: UInt32
    var message: String

    var description: String { "\(operation): \(message)" }

    var routineError: GSSRoutineError? { GSSRoutineError(rawValue: GSSConstant.routineError(major)) }
    var kerberosCode: KerberosMinorCode? { KerberosMinorCode(rawValue: Int32(bitPattern: minor)) }

    /// What this failure means for the caller (see `KerberosError`).
    ///
    /// - Parameters:
    ///   - principal: whose credential was used, for a rejection message.
    ///   - service: the service asked for, when a context was being initiated.
    func classified(principal: String, service: String? = nil) -> KerberosError {
        switch kerberosCode {
        case .preauthenticationFailed, .integrityCheckFailed, .clientRevoked, .keyExpired, .clientPrincipalUnknown:
            return .credentialRejected(principal: principal, reason: message)
        case .kdcUnreachable, .realmUnknown:
            return .kdcUnreachable(message)
        case .servicePrincipalUnknown:
            return .serviceUnknown(service: service ?? "?", reason: message)
        case .noCredentialsCache, .credentialNotFound, .noDefaultRealm, .keytabEntryNotFound, .ticketExpired:
            return .credentialUnavailable(message)
        case nil:
            break
        }
        switch routineError {
        case .noCredentials, .credentialsExpired, .defectiveCredential:
            return .credentialUnavailable(message)
        case .badName, .badNameType:
            return .credentialUnavailable(message)
        default:
            return .failed(message)
        }
    }
}

/// The MIT Kerberos `com_err` codes (minor statuses of the krb5 mechanism) that decide how a
/// failure is classified. `ERROR_TABLE_BASE_krb5` is -1765328384; KDC error numbers (RFC 4120
/// §7.5.9) are added to it.
enum KerberosMinorCode: Int32 {
    /// KDC_ERR_C_PRINCIPAL_UNKNOWN (6): no such user.
    case clientPrincipalUnknown = -1_765_328_378
    /// KDC_ERR_S_PRINCIPAL_UNKNOWN (7): no such service (SPN).
    case servicePrincipalUnknown = -1_765_328_377
    /// KDC_ERR_CLIENT_REVOKED (18): account disabled or locked out.
    case clientRevoked = -1_765_328_366
    /// KDC_ERR_KEY_EXPIRED (23): the password has expired.
    case keyExpired = -1_765_328_361
    /// KDC_ERR_PREAUTH_FAILED (24): wrong password (with pre-authentication).
    case preauthenticationFailed = -1_765_328_360
    /// KRB_AP_ERR_BAD_INTEGRITY (31): wrong password (a KDC without pre-authentication).
    case integrityCheckFailed = -1_765_328_353
    /// KRB_AP_ERR_TKT_EXPIRED (32).
    case ticketExpired = -1_765_328_352
    /// KRB5_CC_NOTFOUND: no matching credential in the cache.
    case credentialNotFound = -1_765_328_243
    /// KRB5_REALM_UNKNOWN: no KDC known for the realm.
    case realmUnknown = -1_765_328_230
    /// KRB5_KDC_UNREACH: no KDC answered.
    case kdcUnreachable = -1_765_328_228
    /// KRB5_KT_NOTFOUND: the keytab has no entry for the principal.
    case keytabEntryNotFound = -1_765_328_203
    /// KRB5_FCC_NOFILE: no ticket cache.
    case noCredentialsCache = -1_765_328_189
    /// KRB5_CONFIG_NODEFREALM: no default realm configured.
    case noDefaultRealm = -1_765_328_160
}

extension GSSAPILibrary {
    /// The library's text for a status: the GSS message, then the mechanism's own.
    func message(major: UInt32, minor: UInt32) -> String {
        // The mechanism's text says what happened ("Cannot contact any KDC for realm ...");
        // the generic GSS text only when there is nothing more specific.
        let mech = minor == 0 ? [] : statusStrings(minor, type: GSSConstant.mechCode).filter { !$0.isEmpty }
        let parts = mech.isEmpty ? statusStrings(major, type: GSSConstant.gssCode).filter { !$0.isEmpty } : mech
        let text = parts.joined(separator: ": ")
        return text.isEmpty ? "GSSAPI status \(major)/\(minor)" : text
    }

    private func statusStrings(_ value: UInt32, type: Int32) -> [String] {
        var strings: [String] = []
        var context: UInt32 = 0
        // display_status returns one message per call while the context is non-zero.
        for _ in 0..<8 {
            var minor: UInt32 = 0
            var buffer = GSSBuffer()
            let major = self.displayStatus(&minor, value, type, type == GSSConstant.mechCode ? oids.kerberos5Raw : nil, &context, &buffer)
            if GSSConstant.isError(major) { break }
            strings.append(buffer.string)
            _ = self.releaseBuffer(&minor, &buffer)
            if context == 0 { break }
        }
        return strings
    }

    /// Throws a `GSSStatus` for an error major status.
    func check(_ major: UInt32, _ minor: UInt32, _ operation: @autoclosure () -> String) throws(GSSStatus) {
        guard GSSConstant.isError(major) else { return }
        throw GSSStatus(operation: operation(), major: major, minor: minor, message: message(major: major, minor: minor))
    }
}

extension GSSBuffer {
    /// The bytes of a buffer GSSAPI filled in (copied; the buffer is released by the caller).
    var bytes: [UInt8] {
        guard length > 0, let value else { return [] }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// The buffer as UTF-8 text (names, messages), invalid bytes replaced.
    var string: String {
        String(decoding: bytes, as: UTF8.self)
    }
}
