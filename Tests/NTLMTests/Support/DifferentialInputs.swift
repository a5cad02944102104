import NTLMTestSupport
import Foundation
import Testing

@testable import NTLM

// Seeded random inputs and a mismatch recorder for PySPNEGODifferentialTests.
//
// Everything random there comes from one SplitMix64 seed, printed at start; set
// NTLMPROXY_DIFF_SEED (decimal or 0x-hex) to replay a run.

// MARK: - Seeded randomness


enum DiffSeed {
    /// `NTLMPROXY_DIFF_SEED`, else a fresh random seed. Printed once.
    static let value: UInt64 = {
        let env = ProcessInfo.processInfo.environment["NTLMPROXY_DIFF_SEED"]
        var seed: UInt64
        var source = "random"
        if let env, let parsed = parse(env) {
            seed = parsed
            source = "NTLMPROXY_DIFF_SEED"
        } else {
            var system = SystemRandomNumberGenerator()
            seed = system.next()
        }
        print("PySPNEGODifferentialTests: seed = \(seed) (\(source)); replay with NTLMPROXY_DIFF_SEED=\(seed)")
        return seed
    }()

    static func parse(_ s: String) -> UInt64? {
        let t = s.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
        return UInt64(t)
    }

    /// A generator for one test, independent of the order tests run in.
    static func generator(_ salt: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: value ^ salt)
        return SplitMix64(seed: mixer.next())
    }
}


/// Random names, passwords, AV pair lists, flags and timestamps.
enum DiffInputs {
    /// Letters whose upper case is a single scalar in both Swift and Python (pyspnego upper-cases
    /// with Python's full mapping, see `knownUppercaseDifference`). No `\`, `@` or `:` (pyspnego
    /// splits user names on `\` and its user file on `:`), and nothing `str.splitlines` splits on.
    static let nameAlphabets: [[Character]] = [
        Array("abcdefghijklmnopqrstuvwxyz"),
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        Array("0123456789._-"),
        Array("äöüÄÖÜéèêëÉàâçñÑåÅøØæÆœŒÿ"),
        Array("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρστυφχψωάέήίόύώςΊΎ"),
        Array("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
        Array("ĀāĂăĄąĆćČčĎďĘęĚěĞğıŁłŃńŇňŐőŘřŚśŞşŠšŤťŮůŰűŹźŻżŽž"),
        Array("山田太郎花子鈴木佐藤"),
    ]
    static let fixedUsers = ["Jürgen", "ΣΊΣΥΦΟΣ", "Ærøskøbing", "владимир", "山田太郎", "o'brien", "Zoë.Ünal"]
    static let passwordExtras: [Character] = Array(" !#$%&()*+,-./;<=>?[]^_`{|}~\"'") + ["€", "é", "ß", "Ω", "中", "😀", "🎉", "\u{00A0}"]

    static func name(_ rng: inout SplitMix64, length: ClosedRange<Int>) -> String {
        let primary = rng.pick(nameAlphabets)
        var out = ""
        for _ in 0..<rng.int(length) {
            // Mostly one script per name, now and then a character from another.
            let alphabet = rng.chance(0.8) ? primary : rng.pick(nameAlphabets)
            out.append(rng.pick(alphabet))
        }
        return out
    }

    static func user(_ rng: inout SplitMix64, index: Int) -> String {
        if index < fixedUsers.count { return fixedUsers[index] }
        var u = name(&rng, length: 1...20)
        if rng.chance(0.05) { u += "😀" }  // a non-BMP scalar (surrogate pair in UTF-16)
        return u
    }

    static func domain(_ rng: inout SplitMix64) -> String {
        if rng.chance(0.2) { return "" }
        if rng.chance(0.3) { return rng.pick(["CORP", "MÜNCHEN", "corp.example.com", "ΑΘΗΝΑ", "Domain", "МОСКВА"]) }
        return name(&rng, length: 1...15)
    }

    /// `forUserFile`: no `:` and never empty (pyspnego's user file and its credential handling).
    static func password(_ rng: inout SplitMix64, forUserFile: Bool = false) -> String {
        let length = rng.chance(0.4) ? rng.int(15...40) : rng.int(forUserFile ? 1...14 : 0...14)
        var out = ""
        for _ in 0..<length {
            let alphabet = rng.chance(0.2) ? passwordExtras : rng.pick(nameAlphabets)
            out.append(rng.pick(alphabet))
        }
        if !forUserFile && rng.chance(0.05) { out += ":x" }
        return out
    }

    /// Swaps the case of ASCII letters only (other scripts' case pairs may not round-trip).
    static func flipASCIICase(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            switch c.value {
            case 0x41...0x5A: return Unicode.Scalar(c.value + 0x20)!
            case 0x61...0x7A: return Unicode.Scalar(c.value - 0x20)!
            default: return c
            }
        }))
    }

    /// A FILETIME: mostly realistic (1990-2100), sometimes anywhere in 64 bits, sometimes an edge.
    static func fileTime(_ rng: inout SplitMix64) -> UInt64 {
        switch rng.int(0...9) {
        case 0: return UInt64.random(in: .min ... .max, using: &rng)
        case 1: return rng.pick([0, 1, UInt64.max, UInt64(Int64.max), FileTime.unixEpochOffset])
        default: return UInt64.random(in: 122_000_000_000_000_000...157_000_000_000_000_000, using: &rng)
        }
    }

    /// A random AV pair list (MS-NLMP 2.2.2.1): a random subset, in random order, of the name
    /// pairs, MsvAvTimestamp, MsvAvFlags, MsvAvTargetName, MsvAvChannelBindings, MsvAvSingleHost
    /// and unknown AvIds. Each AvId at most once.
    static func targetInfo(_ rng: inout SplitMix64, timestamp: Bool? = nil) -> TargetInfo {
        var pairs: [AVPair] = []
        for id: UInt16 in [1, 2, 3, 4, 5] where rng.chance(0.6) {
            let text = id <= 2 ? name(&rng, length: 1...15).uppercased() : name(&rng, length: 1...30).lowercased()
            pairs.append(.text(AVPair.ID(rawValue: id), text))
        }
        if timestamp ?? rng.chance(0.6) {
            var w = WireWriter(capacity: 8)
            w.append(fileTime(&rng))
            pairs.append(AVPair(id: .timestamp, value: w.bytes))
        }
        if rng.chance(0.4) {
            var w = WireWriter(capacity: 4)
            w.append(rng.chance(0.5) ? UInt32(rng.pick([0, 1, 2, 3, 4, 5, 7])) : UInt32.random(in: .min ... .max, using: &rng))
            pairs.append(AVPair(id: .flags, value: w.bytes))
        }
        if rng.chance(0.15) { pairs.append(.text(.targetName, "HTTP/" + name(&rng, length: 1...20).lowercased())) }
        if rng.chance(0.1) { pairs.append(AVPair(id: .channelBindings, value: rng.bytes(16))) }
        if rng.chance(0.1) { pairs.append(AVPair(id: .singleHost, value: rng.bytes(48))) }
        var unknown = Set<UInt16>()
        for _ in 0..<rng.int(0...2) {
            let id = rng.chance(0.5) ? UInt16(rng.int(11...255)) : UInt16.random(in: 256 ... .max, using: &rng)
            if unknown.insert(id).inserted { pairs.append(AVPair(id: AVPair.ID(rawValue: id), value: rng.bytes(rng.int(0...24)))) }
        }
        pairs.shuffle(using: &rng)
        return TargetInfo(pairs)
    }

    /// Random CHALLENGE_MESSAGE flags: the usual ones, each sometimes dropped, and odd ones
    /// now and then.
    static func challengeFlags(_ rng: inout SplitMix64) -> NegotiateFlags {
        var flags: NegotiateFlags = [.ntlm, .targetInfo]
        flags.insert(rng.chance(0.95) ? .unicode : .oem)
        let optional: [(NegotiateFlags, Double)] = [
            (.requestTarget, 0.8), (.sign, 0.7), (.seal, 0.6), (.alwaysSign, 0.7), (.extendedSessionSecurity, 0.85),
            (.negotiate128, 0.8), (.negotiate56, 0.6), (.keyExchange, 0.7), (.version, 0.7), (.targetTypeDomain, 0.5),
            (.targetTypeServer, 0.3), (.identify, 0.05), (.lmKey, 0.05), (.datagram, 0.02),
        ]
        for (flag, p) in optional where rng.chance(p) { flags.insert(flag) }
        return flags
    }

    /// Flags for the sign/seal subset: SIGN always (pyspnego's `sign` refuses without it, see
    /// `alwaysSignWithoutSign`), the rest random, with and without extended session security.
    static func sessionFlags(_ rng: inout SplitMix64) -> NegotiateFlags {
        var flags: NegotiateFlags = [.ntlm, .unicode, .sign]
        let ess = rng.chance(0.7)
        if ess { flags.insert(.extendedSessionSecurity) }
        if rng.chance(0.6) { flags.insert(.negotiate128) }
        if rng.chance(0.5) { flags.insert(.negotiate56) }
        if rng.chance(0.6) { flags.insert(.keyExchange) }
        if rng.chance(0.6) { flags.insert(.seal) }
        if rng.chance(0.5) { flags.insert(.alwaysSign) }
        if !ess && rng.chance(0.3) { flags.insert(.lmKey) }
        if rng.chance(0.05) { flags.insert(.datagram) }
        return flags
    }
}

/// One account for the full-context tests.
struct DiffAccount: CustomStringConvertible {
    var user: String
    var domain: String
    var password: String

    /// What pyspnego's client takes: `DOMAIN\user`, or `user` for an empty domain.
    var peerName: String { domain.isEmpty ? user : "\(domain)\\\(user)" }
    var description: String { "\(peerName.debugDescription) password \(password.debugDescription)" }

    static func make(_ rng: inout SplitMix64, count: Int, defaultDomain: String) -> [DiffAccount] {
        var seen = Set<String>()
        var out: [DiffAccount] = []
        var index = 0
        while out.count < count {
            let user = DiffInputs.user(&rng, index: index)
            index += 1
            let domain = DiffInputs.domain(&rng)
            // Unique as both stores see it (case-insensitive, empty domain = the default one).
            let key = TextEncoding.windowsUppercase((domain.isEmpty ? defaultDomain : domain) + "\\" + user)
            guard seen.insert(key).inserted, user.uppercased() == TextEncoding.windowsUppercase(user) else { continue }
            out.append(DiffAccount(user: user, domain: domain, password: DiffInputs.password(&rng, forUserFile: true)))
        }
        return out
    }
}

// MARK: - Comparison helper

/// Counts mismatches and records each as an issue with the case's inputs; stops the test
/// after `limit` failing cases so a systematic bug does not flood the log.
struct DiffChecker {
    var failingCases = 0
    var currentCaseFailed = false
    let limit = 10

    mutating func begin() { currentCaseFailed = false }

    mutating func end() { if currentCaseFailed { failingCases += 1 } }

    var shouldStop: Bool { failingCases >= limit }

    @discardableResult
    mutating func same(_ ours: [UInt8], _ theirs: [UInt8], _ what: String, _ context: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if ours == theirs { return true }
        currentCaseFailed = true
        Issue.record("\(what) differs: ours \(ours.hex), pyspnego \(theirs.hex); \(context())", sourceLocation: sourceLocation)
        return false
    }

    mutating func require(_ condition: Bool, _ what: String, _ context: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        if condition { return }
        currentCaseFailed = true
        Issue.record("\(what); \(context())", sourceLocation: sourceLocation)
    }
}
