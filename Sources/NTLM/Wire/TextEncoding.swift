/// Text as NTLM puts it on the wire: UTF-16LE when NEGOTIATE_UNICODE is set, otherwise
/// the "OEM" code page. We read OEM as ISO-8859-1 (every byte maps to one scalar, so decoding
/// never fails) and write it as ASCII with `?` for anything else, which is what curl, cntlm
/// and Samba's clients do in practice.
enum TextEncoding {
    static func utf16LE(_ string: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(string.utf8.count * 2)
        for unit in string.utf16 {
            bytes.append(UInt8(truncatingIfNeeded: unit))
            bytes.append(UInt8(truncatingIfNeeded: unit >> 8))
        }
        return bytes
    }

    /// Strict UTF-16LE decoding: an odd byte count or an unpaired surrogate is an error.
    static func decodeUTF16LE(_ bytes: [UInt8], field: String) throws(NTLMError) -> String {
        guard bytes.count % 2 == 0 else { throw .invalidString(field: field) }
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var index = 0
        while index + 1 < bytes.count {
            units.append(UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
            index += 2
        }
        var result = String.UnicodeScalarView()
        var iterator = units.makeIterator()
        var decoder = UTF16()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): result.append(scalar)
            case .emptyInput: break loop
            case .error: throw .invalidString(field: field)
            }
        }
        return String(result)
    }

    static func oem(_ string: String) -> [UInt8] {
        string.unicodeScalars.map { $0.isASCII ? UInt8(truncatingIfNeeded: $0.value) : UInt8(ascii: "?") }
    }

    static func decodeOEM(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
        return String(scalars)
    }

    static func encode(_ string: String, unicode: Bool) -> [UInt8] {
        unicode ? utf16LE(string) : oem(string)
    }

    static func decode(_ bytes: [UInt8], unicode: Bool, field: String) throws(NTLMError) -> String {
        unicode ? try decodeUTF16LE(bytes, field: field) : decodeOEM(bytes)
    }

    /// Upper-cases the way Windows does for NTOWFv2 and LMOWFv1: scalar by scalar with the
    /// simple (one-to-one) mapping, so "ß" stays "ß" instead of becoming "SS".
    static func windowsUppercase(_ string: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            if scalar.isASCII {
                let value = scalar.value
                if value >= 0x61 && value <= 0x7A, let upper = Unicode.Scalar(value - 0x20) {
                    scalars.append(upper)
                } else {
                    scalars.append(scalar)
                }
                continue
            }
            let mapped = scalar.properties.uppercaseMapping.unicodeScalars
            if mapped.count == 1, let single = mapped.first {
                scalars.append(single)
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
