#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The little file access configuration loading needs, without Foundation: read a text file,
/// check that a file exists and is readable, resolve a path against the config's directory.
enum ConfigurationFiles {
    /// Why a file cannot be used; `description` is a short phrase for an error message.
    enum Problem: Error, Equatable, CustomStringConvertible {
        case notFound
        case permissionDenied
        case isDirectory
        case tooLarge(limit: Int)
        case other(errno: Int32)

        var description: String {
            switch self {
            case .notFound: return "no such file"
            case .permissionDenied: return "permission denied"
            case .isDirectory: return "is a directory, not a file"
            case .tooLarge(let limit): return "larger than \(limit) bytes"
            case .other(let code): return "cannot read it (errno \(code))"
            }
        }

        init(errno code: Int32) {
            switch code {
            case ENOENT, ENOTDIR: self = .notFound
            case EACCES, EPERM: self = .permissionDenied
            case EISDIR: self = .isDirectory
            default: self = .other(errno: code)
            }
        }
    }

    /// `path` as is when absolute (or when there is no base), else joined to `baseDirectory`.
    static func resolve(_ path: String, relativeTo baseDirectory: String?) -> String {
        guard let baseDirectory, !baseDirectory.isEmpty, baseDirectory != ".", !path.hasPrefix("/") else { return path }
        return baseDirectory.hasSuffix("/") ? baseDirectory + path : baseDirectory + "/" + path
    }

    /// The directory part of `path` (`"."` for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// Checks that `path` names a regular file this process can read.
    static func checkReadable(_ path: String) -> Problem? {
        var info = stat()
        guard stat(path, &info) == 0 else { return Problem(errno: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { return .isDirectory }
        guard access(path, R_OK) == 0 else { return Problem(errno: errno) }
        return nil
    }

    /// Why `path` cannot be run, or `nil` when it is an executable file.
    static func checkExecutable(_ path: String) -> Problem? {
        var info = stat()
        guard stat(path, &info) == 0 else { return Problem(errno: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { return .isDirectory }
        guard access(path, X_OK) == 0 else { return Problem(errno: errno) }
        return nil
    }

    /// Whether users other than the owner may read the file (a secret file should be 0600).
    static func isReadableByOthers(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & (S_IRGRP | S_IROTH)) != 0
    }

    /// The whole file as UTF-8 text (invalid sequences replaced, a leading BOM dropped).
    static func readText(_ path: String, limit: Int = 16 << 20) throws(Problem) -> String {
        if let problem = checkReadable(path) { throw problem }
        guard let handle = fopen(path, "rb") else { throw Problem(errno: errno) }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in fread(buffer.baseAddress, 1, buffer.count, handle) }
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
                if bytes.count > limit { throw .tooLarge(limit: limit) }
            }
            if count < chunk.count {
                if ferror(handle) != 0 { throw Problem(errno: errno) }
                break
            }
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The first line of a file, without its line ending: how secret files are read (a
    /// password may contain spaces, so nothing else is trimmed).
    static func readFirstLine(_ path: String) throws(Problem) -> String {
        let text = try readText(path, limit: 64 * 1024)
        var line = Substring(text)
        if let end = line.firstIndex(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) { line = line[..<end] }
        return String(line)
    }

    /// Reads the process environment.
    static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
