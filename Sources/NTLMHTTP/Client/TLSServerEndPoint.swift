import Crypto
import NTLM

/// RFC 5929 §4.1 `tls-server-end-point` channel bindings from the server's leaf certificate.
///
/// The hash is that of the certificate's DER; its function follows the certificate's
/// signature algorithm: SHA-256 when that uses MD5 or SHA-1 (or SHA-256), SHA-384 or SHA-512
/// when it uses those. Algorithms RFC 5929 does not cover (Ed25519, SHA-224, unknown OIDs) get
/// SHA-256, as Windows and OpenSSL-based peers do.
public enum TLSServerEndPoint {
    /// The hash function RFC 5929 picks for a certificate.
    public enum HashFunction: String, Sendable, Hashable {
        case sha256 = "SHA-256"
        case sha384 = "SHA-384"
        case sha512 = "SHA-512"
    }

    /// The channel bindings for a server certificate given as DER.
    public static func channelBindings(certificateDER der: [UInt8]) -> ChannelBindings {
        ChannelBindings.tlsServerEndPoint(certificateHash: certificateHash(der: der))
    }

    /// The RFC 5929 certificate hash.
    public static func certificateHash(der: [UInt8]) -> [UInt8] {
        switch hashFunction(certificateDER: der) {
        case .sha256: return Array(SHA256.hash(data: der))
        case .sha384: return Array(SHA384.hash(data: der))
        case .sha512: return Array(SHA512.hash(data: der))
        }
    }

    /// The hash function for this certificate, from its `signatureAlgorithm`. Malformed DER
    /// falls back to SHA-256 (the binding then simply fails to match; nothing traps).
    public static func hashFunction(certificateDER der: [UInt8]) -> HashFunction {
        // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm
        //   AlgorithmIdentifier, signatureValue BIT STRING }
        guard let certificate = DER.element(der, at: 0), certificate.tag == 0x30,
              let tbs = DER.element(der, at: certificate.contentStart, end: certificate.end),
              let algorithm = DER.element(der, at: tbs.end, end: certificate.end), algorithm.tag == 0x30,
              let oid = DER.element(der, at: algorithm.contentStart, end: algorithm.end), oid.tag == 0x06
        else { return .sha256 }
        let oidBytes = Array(der[oid.contentStart..<oid.end])
        if oidBytes == OID.rsassaPSS {
            return pssHash(der, parameters: oid.end, end: algorithm.end)
        }
        return hashFunction(signatureOID: oidBytes)
    }

    static func hashFunction(signatureOID oid: [UInt8]) -> HashFunction {
        switch oid {
        case OID.sha384WithRSA, OID.ecdsaWithSHA384: return .sha384
        case OID.sha512WithRSA, OID.ecdsaWithSHA512: return .sha512
        default: return .sha256
        }
    }

    /// RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
    static func pssHash(_ der: [UInt8], parameters start: Int, end: Int) -> HashFunction {
        guard let params = DER.element(der, at: start, end: end), params.tag == 0x30,
              let first = DER.element(der, at: params.contentStart, end: params.end), first.tag == 0xA0,
              let hashAlgorithm = DER.element(der, at: first.contentStart, end: first.end), hashAlgorithm.tag == 0x30,
              let hashOID = DER.element(der, at: hashAlgorithm.contentStart, end: hashAlgorithm.end), hashOID.tag == 0x06
        else { return .sha256 }
        switch Array(der[hashOID.contentStart..<hashOID.end]) {
        case OID.sha384: return .sha384
        case OID.sha512: return .sha512
        default: return .sha256
        }
    }

    enum OID {
        static let rsaPrefix: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01]
        static let sha384WithRSA = rsaPrefix + [0x0C]
        static let sha512WithRSA = rsaPrefix + [0x0D]
        static let rsassaPSS = rsaPrefix + [0x0A]
        static let ecdsaWithSHA384: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03]
        static let ecdsaWithSHA512: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04]
        static let sha384: [UInt8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02]
        static let sha512: [UInt8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03]
    }

    /// Just enough DER to walk to the signature algorithm: tag, definite length, bounds.
    enum DER {
        struct Element {
            var tag: UInt8
            var contentStart: Int
            var end: Int
        }

        static func element(_ bytes: [UInt8], at start: Int, end limit: Int? = nil) -> Element? {
            let limit = min(limit ?? bytes.count, bytes.count)
            guard start >= 0, start + 2 <= limit else { return nil }
            let tag = bytes[start]
            let first = bytes[start + 1]
            var index = start + 2
            var length = 0
            if first < 0x80 {
                length = Int(first)
            } else {
                let count = Int(first & 0x7F)
                guard count >= 1, count <= 4, index + count <= limit else { return nil }
                for _ in 0..<count {
                    length = length << 8 | Int(bytes[index])
                    index += 1
                }
            }
            guard length <= limit - index else { return nil }
            return Element(tag: tag, contentStart: index, end: index + length)
        }
    }
}
