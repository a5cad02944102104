#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import NTLM

/// Where a password comes from on the command line: a file, an environment variable, or a
/// prompt on the terminal with echo off. Never from an argument (it would show in `ps`).
enum PasswordSource {
    static func read(file: String?, environment: String, prompt: String) throws -> Password {
        if let file {
            guard let handle = fopen(file, "r") else {
                throw ValidationError("cannot read password file \(file)")
            }
            defer { fclose(handle) }
            var line: UnsafeMutablePointer<CChar>? = nil
            var capacity = 0
            defer { free(line) }
            guard getline(&line, &capacity, handle) >= 0, let line else {
                throw ValidationError("password file \(file) is empty")
            }
            var text = String(cString: line)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return Password(text)
        }
        if let value = getenv(environment) {
            return Password(String(cString: value))
        }
        return try promptWithoutEcho(prompt)
    }

    static func promptWithoutEcho(_ prompt: String) throws -> Password {
        guard isatty(STDIN_FILENO) == 1 else {
            throw ValidationError("no password: set NTLMPROXY_PASSWORD, use --password-file, or run on a terminal")
        }
        writeToStandardError(prompt)
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            writeToStandardError("\n")
        }
        guard let line = readLine(strippingNewline: true) else {
            throw ValidationError("no password entered")
        }
        return Password(line)
    }
}

/// Writes to file descriptor 2 without touching the C `stderr` global (not concurrency-safe).
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
