// GzipReader.swift: streaming gunzip of a file (lepton-risk reads `.csv.gz` feeds), in bounded memory
// and refusing bombs; the whole-buffer inflates stay in Inflate.swift.

import CZlib
import Glibc

/// Why a gzip file could not be read (one line; the caller names the file).
public enum GzipError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file ends before the gzip stream does (a cut-off download or copy).
    case truncated
    /// The data is not a valid gzip stream (zlib's status code).
    case corrupt(status: Int32)
    /// The stream expands more than `ratio` times its compressed size: a gzip bomb, not a feed.
    case bomb(ratio: Int)
    /// Reading the file failed (errno text).
    case io(String)
    /// zlib could not start (out of memory).
    case initFailed

    public var description: String {
        switch self {
        case .truncated: return "gzip data is truncated (the file ends inside the compressed stream)"
        case .corrupt(let status): return "gzip data is corrupt (zlib \(status))"
        case .bomb(let ratio): return "gzip data expands more than \(ratio)× (a gzip bomb?); refused"
        case .io(let why): return why
        case .initFailed: return "zlib init failed"
        }
    }
}

/// Reads a gzip file (RFC 1952; several members one after another, as `cat a.gz b.gz` makes, are
/// one stream) chunk by chunk: memory is the two buffers whatever the size.
///
/// A real CSV compresses 5-10×; deflate can reach 1032×, so a few kilobytes could claim
/// gigabytes of parsing. Once more than ``ratioCheckAfter`` bytes came out, an output over
/// ``maxRatio`` times the input read so far is refused as a bomb.
public final class GzipReader {
    /// Largest accepted expansion (output bytes per compressed byte).
    public let maxRatio: Int
    /// Output size from which the ratio is checked (small files may be very repetitive).
    public let ratioCheckAfter: Int
    /// Compressed bytes read from the file so far (for progress against the file's size).
    public private(set) var compressedBytesRead = 0
    /// Inflated bytes returned so far.
    public private(set) var inflatedBytes = 0

    private let fd: Int32
    private var stream = z_stream()
    private let input: UnsafeMutablePointer<UInt8>
    private let inputSize = 1 << 18
    private var eof = false
    private var memberEnded = false
    private var started = false

    /// Reads from `fd` (the caller keeps it open while reading and closes it).
    /// - Throws: ``GzipError/initFailed``.
    public init(fd: Int32, maxRatio: Int = 200, ratioCheckAfter: Int = 64 << 20) throws(GzipError) {
        self.fd = fd
        self.maxRatio = maxRatio
        self.ratioCheckAfter = ratioCheckAfter
        input = .allocate(capacity: inputSize)
        // 15 + 16: a gzip wrapper (header and CRC-32 checked by zlib).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            input.deallocate()
            throw .initFailed
        }
        started = true
    }

    deinit {
        if started { inflateEnd(&stream) }
        input.deallocate()
    }

    /// Inflates up to `count` bytes into `buffer`; 0 at the end of the data.
    /// - Throws: ``GzipError`` when the file is cut off, corrupt, a bomb, or unreadable.
    public func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(GzipError) -> Int {
        var produced = 0
        stream.next_out = buffer
        stream.avail_out = UInt32(min(count, Int(UInt32.max)))
        while stream.avail_out > 0 {
            if stream.avail_in == 0 && !eof {
                let got = Glibc.read(fd, input, inputSize)
                if got < 0 { throw .io(String(cString: strerror(errno))) }
                if got == 0 { eof = true } else {
                    compressedBytesRead += got
                    stream.next_in = input
                    stream.avail_in = UInt32(got)
                }
            }
            if stream.avail_in == 0 && eof {
                // The end of the file: fine between members, a cut-off stream inside one.
                if memberEnded || (compressedBytesRead == 0) { break }
                throw .truncated
            }
            if memberEnded {
                // Another member follows (concatenated gzip files).
                guard inflateReset(&stream) == Z_OK else { throw .corrupt(status: Z_STREAM_ERROR) }
                memberEnded = false
            }
            let before = stream.avail_out
            let status = inflate(&stream, Z_NO_FLUSH)
            produced += Int(before - stream.avail_out)
            switch status {
            case Z_OK: break
            case Z_STREAM_END: memberEnded = true
            case Z_BUF_ERROR:
                // No progress possible: needs more input (read above) or more room (loop ends).
                if stream.avail_in > 0 && stream.avail_out > 0 { throw .corrupt(status: status) }
            default: throw .corrupt(status: status)
            }
        }
        inflatedBytes += produced
        if inflatedBytes > ratioCheckAfter && inflatedBytes / max(compressedBytesRead, 1) > maxRatio { throw .bomb(ratio: maxRatio) }
        return produced
    }
}
