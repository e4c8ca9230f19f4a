// AtomicFile.swift: the one write-to-a-temporary-then-rename of the code base.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A file could not be written: names the file and says why, in one line.
public struct FileWriteError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file that was to be written (not the temporary one).
    public let path: String
    /// The system's reason (`strerror`), e.g. "No such file or directory".
    public let reason: String

    public init(path: String, reason: String) { self.path = path; self.reason = reason }

    public var description: String { "cannot write \(path): \(reason)" }
}

/// Replaces a file's contents all at once.
///
/// The bytes go to a new temporary file in the same folder (same file system, so the rename is
/// atomic), are flushed to the disk, and the temporary file is renamed over the target. A reader
/// sees the old file or the new one, never a half-written one — also after a crash or a full disk.
///
/// The temporary name is `.<name>.tmp-<pid>-<random>` created with `O_EXCL`: two writers, in
/// one process or in two, never share a temporary file, and the last rename wins. On any failure
/// the temporary file is removed and the old file is left as it was.
public enum AtomicFile {
    /// Writes `data` to `url` atomically (see ``AtomicFile``).
    /// - Parameter durable: `fsync` the file before the rename (default). Without it a crash soon
    ///   after the rename can leave an empty file on some file systems (ext4's delayed allocation).
    /// - Throws: ``FileWriteError`` naming `url`.
    public static func write(_ data: Data, to url: URL, durable: Bool = true) throws(FileWriteError) {
        do {
            try replace(url, durable: durable) { fd, _ in
                let code = data.withUnsafeBytes { writeAll(fd, $0) }
                if code != 0 { throw FileWriteError(path: url.path, reason: String(cString: strerror(code))) }
            }
        } catch let e as FileWriteError { throw e } catch {
            throw FileWriteError(path: url.path, reason: "\(error)")  // not reached: the body throws only FileWriteError
        }
    }

    /// Replaces `url` with what `produce` writes to the temporary path it is given (for a C
    /// library that opens files by name, such as libsndfile): the file is flushed and renamed over
    /// `url` when `produce` returns, and removed when it throws.
    /// - Throws: what `produce` throws, or ``FileWriteError`` naming `url`.
    public static func write(to url: URL, durable: Bool = true, by produce: (_ temporary: URL) throws -> Void) throws {
        try replace(url, durable: durable) { _, path in try produce(URL(fileURLWithPath: path)) }
    }

    /// Creates a unique temporary file beside `url`, lets `body` fill it (through the open
    /// descriptor or by path), then flushes, closes and renames it over `url`; on any failure the
    /// temporary file is removed and `url` is untouched.
    private static func replace(_ url: URL, durable: Bool, _ body: (_ fd: Int32, _ path: String) throws -> Void) throws {
        let target = url.path
        func failure(_ code: Int32) -> FileWriteError { FileWriteError(path: target, reason: String(cString: strerror(code))) }

        // A unique temporary file: O_EXCL refuses an existing name, so a clash only costs a retry.
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            temporary = temporaryPath(for: url)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)  // less the umask, as any new file
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw failure(errno) }

        do { try body(fd, temporary) } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        var code: Int32 = 0
        if durable, fsync(fd) != 0 { code = errno }
        if close(fd) != 0, code == 0 { code = errno }
        if code == 0, rename(temporary, target) != 0 { code = errno }
        if code != 0 {
            unlink(temporary)
            throw failure(code)
        }
    }

    /// `.<name>.tmp-<pid>-<random>` beside `url`. The pid tells which process left a file behind
    /// after a crash; the 64 random bits keep concurrent writers apart.
    static func temporaryPath(for url: URL) -> String {
        url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))").path
    }
}

/// Writes every byte of `bytes` to `fd` (a `write` may take fewer, or be interrupted); 0 or the `errno`.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += n
    }
    return 0
}
