import Foundation
import Hummingbird

/// Reading a request's parameters and body for model work.
public enum RequestInput {
    /// The query parameter `name` as a `T` (nil when absent).
    /// - Throws: 400 naming the parameter when its value is not a `T`.
    public static func query<T: LosslessStringConvertible>(_ request: Request, _ name: String, as _: T.Type = T.self) throws -> T? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        guard let value = T(String(text)) else {
            throw ServiceError.badRequest("query parameter \(name)=\(text) is not \(T.self == Int.self ? "an integer" : T.self == Bool.self ? "true or false" : "a number")")
        }
        return value
    }

    /// A flag query parameter: `?accounts`, `?accounts=1` or `?accounts=true` set it; `0`/`false` clear it.
    public static func flag(_ request: Request, _ name: String) throws -> Bool {
        guard let text = request.uri.queryParameters[Substring(name)] else { return false }
        switch text.lowercased() {
        case "", "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw ServiceError.badRequest("query parameter \(name)=\(text) must be 1 or 0")
        }
    }

    /// Runs `body` with `bytes` in a private temporary file (mode 0600, removed afterwards), for the
    /// decoders that read files.
    public static func withTemporaryFile<T>(_ bytes: ByteBuffer, suffix: String = "", _ body: (URL) throws -> T) throws -> T {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-\(UUID().uuidString)\(suffix)")
        defer { unlink(url.path) }
        try writePrivate(bytes, to: url)
        return try body(url)
    }

    /// Runs `body` with `files` written under their names (base names, distinct) in a private
    /// temporary folder (mode 0700, removed afterwards), for inputs whose file names matter.
    public static func withTemporaryFiles<T>(_ files: [(name: String, bytes: ByteBuffer)], _ body: ([URL]) throws -> T) throws -> T {
        var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("lepton-XXXXXX").path.utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ServiceError(.internalServerError, "cannot create a temporary folder")
        }
        let dir = URL(fileURLWithPath: String(cString: made))
        defer { try? FileManager.default.removeItem(at: dir) }
        let urls = files.map { dir.appendingPathComponent($0.name) }
        for (file, url) in zip(files, urls) { try writePrivate(file.bytes, to: url) }
        return try body(urls)
    }

    /// Creates `url` (it must not exist) with mode 0600 and writes `bytes` to it.
    private static func writePrivate(_ bytes: ByteBuffer, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServiceError(.internalServerError, "cannot create a temporary file") }
        defer { close(fd) }
        let written = bytes.withUnsafeReadableBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written else { throw ServiceError(.internalServerError, "cannot write a temporary file") }
    }
}
