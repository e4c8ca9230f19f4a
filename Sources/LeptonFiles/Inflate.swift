// Inflate.swift: the one zlib decompression of the code base, bounded against deflate bombs.

import CZlib

/// Why a deflate stream could not be inflated (one line; the caller names the file or entry).
public enum InflateError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The stream is damaged or cut off (zlib's status code).
    case corrupt(status: Int32)
    /// The stream inflates to more than the caller's limit.
    case tooLarge(limit: Int)
    /// The stream inflates to a different size than the container declared.
    case sizeMismatch(expected: Int, found: Int)
    /// zlib could not start (out of memory).
    case initFailed

    public var description: String {
        switch self {
        case .corrupt(let status): return "deflated data is corrupt (zlib \(status))"
        case .tooLarge(let limit): return "deflated data inflates to more than \(limit) bytes"
        case .sizeMismatch(let expected, let found): return "deflated data inflates to \(found) bytes, not the declared \(expected)"
        case .initFailed: return "zlib init failed"
        }
    }
}

/// Inflates deflate streams with a bound on the output, so a few hostile bytes cannot claim
/// gigabytes (deflate expands at most 1032:1, and a container's declared size can lie).
public enum Inflate {
    /// The largest expansion deflate can achieve (RFC 1951: a 258-byte match per 2 bits, plus
    /// block overhead); a declared size beyond `compressed × 1032 + 64` is a lie.
    public static let maxRatio = 1032

    /// Whether `expected` bytes can come out of `compressed` deflated bytes.
    public static func isPossible(expected: Int, compressed: Int) -> Bool {
        let (bound, overflow) = compressed.multipliedReportingOverflow(by: maxRatio)
        return expected >= 0 && (overflow || expected <= bound + 64)
    }

    /// Inflates `input` whose inflated size the container declares: exactly `expected` bytes or an
    /// error. An `expected` beyond what deflate can produce from `input.count` bytes (``maxRatio``)
    /// is refused before anything is allocated.
    /// - Parameter zlibWrapped: the stream has zlib's header and checksum (RFC 1950) instead of
    ///   being raw deflate (RFC 1951, as in ZIP entries and DICOM's deflated syntax).
    public static func exact(_ input: [UInt8], expected: Int, zlibWrapped: Bool = false) throws(InflateError) -> [UInt8] {
        guard isPossible(expected: expected, compressed: input.count) else { throw .sizeMismatch(expected: expected, found: input.count * maxRatio + 64) }
        let out = try bounded(input, limit: expected, zlibWrapped: zlibWrapped, requireEnd: true, initialCapacity: expected)
        guard out.count == expected else { throw .sizeMismatch(expected: expected, found: out.count) }
        return out
    }

    /// Inflates `input` of unknown inflated size, up to `limit` bytes.
    ///
    /// - Parameter requireEnd: without it, a stream that stops without its end marker once all
    ///   input is consumed gives what it produced (DICOM writers are known to cut the last block);
    ///   with it, that is ``InflateError/corrupt(status:)``. Any zlib error throws.
    public static func bounded(_ input: [UInt8], limit: Int, zlibWrapped: Bool = false, requireEnd: Bool = false,
                               initialCapacity: Int = 0) throws(InflateError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, zlibWrapped ? 15 : -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .initFailed
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8]()
        out.reserveCapacity(min(initialCapacity, limit))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var status: Int32 = Z_OK
        let failure: InflateError? = input.withUnsafeBufferPointer { inp in
            stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
            stream.avail_in = UInt32(inp.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { c in
                    stream.next_out = c.baseAddress
                    stream.avail_out = UInt32(c.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return c.count - Int(stream.avail_out)
                }
                if status != Z_OK && status != Z_STREAM_END { return .corrupt(status: status) }
                if out.count + produced > limit { return .tooLarge(limit: limit) }
                out.append(contentsOf: chunk[0..<produced])
                // All input consumed and zlib wants more: the stream ended without its marker.
                if status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0 {
                    return requireEnd ? .corrupt(status: Z_BUF_ERROR) : nil
                }
            } while status != Z_STREAM_END
            return nil
        }
        if let failure { throw failure }
        return out
    }
}
