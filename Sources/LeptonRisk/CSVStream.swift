import Foundation
import LeptonFiles

/// One CSV row as byte ranges into the reader's buffer; valid only inside the callback that
/// received it (no per-field `String` is made unless asked for).
public struct CSVRow {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let starts: UnsafeMutablePointer<Int32>
    @usableFromInline let ends: UnsafeMutablePointer<Int32>
    /// Number of fields in the row.
    public let count: Int
    /// 1-based line number in the file (header = line 1).
    public let line: Int

    /// Length in bytes of field `i`.
    @inlinable public func length(_ i: Int) -> Int { Int(ends[i] - starts[i]) }

    /// Field `i` decoded as UTF-8 (quotes already stripped).
    public func string(_ i: Int) -> String {
        let p = base + Int(starts[i])
        return String(decoding: UnsafeBufferPointer(start: p, count: length(i)), as: UTF8.self)
    }

    /// Field `i` as a pointer and length.
    @inlinable public func bytes(_ i: Int) -> (UnsafePointer<UInt8>, Int) { (base + Int(starts[i]), length(i)) }

    /// True when field `i` equals the ASCII `literal`.
    public func equals(_ i: Int, _ literal: StaticString) -> Bool {
        let n = length(i)
        guard n == literal.utf8CodeUnitCount else { return false }
        return memcmp(base + Int(starts[i]), literal.utf8Start, n) == 0
    }

    /// Field `i` parsed as a decimal number (`-12.5`, `3.2e-05`); nil when not a number.
    @inlinable public func double(_ i: Int) -> Double? {
        parseDecimal(base + Int(starts[i]), length(i))
    }

    /// Field `i` as a non-negative integer; nil when not one.
    @inlinable public func int(_ i: Int) -> Int? {
        let (p, n) = bytes(i)
        if n == 0 || n > 18 { return nil }
        var v = 0
        for k in 0..<n {
            let c = Int(p[k]) &- 48
            if c < 0 || c > 9 { return nil }
            v = v &* 10 &+ c
        }
        return v
    }
}

@usableFromInline let powersOfTen: [Double] = (0...22).map { pow(10.0, Double($0)) }

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` with surrounding spaces; nil otherwise.
@inlinable
public func parseDecimal(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
    var i = 0, end = n
    while i < end && p[i] == 32 { i += 1 }
    while end > i && p[end - 1] == 32 { end -= 1 }
    if i == end { return nil }
    var negative = false
    if p[i] == 45 { negative = true; i += 1 } else if p[i] == 43 { i += 1 }
    var mantissa: UInt64 = 0
    var digits = 0, scale = 0, seen = 0
    while i < end, p[i] >= 48, p[i] <= 57 {
        if digits < 18 { mantissa = mantissa &* 10 &+ UInt64(p[i] - 48); if mantissa > 0 { digits += 1 } } else { scale += 1 }
        i += 1; seen += 1
    }
    if i < end && p[i] == 46 {
        i += 1
        while i < end, p[i] >= 48, p[i] <= 57 {
            if digits < 18 { mantissa = mantissa &* 10 &+ UInt64(p[i] - 48); scale -= 1; if mantissa > 0 { digits += 1 } }
            i += 1; seen += 1
        }
    }
    if seen == 0 { return nil }
    if i < end && (p[i] == 101 || p[i] == 69) {
        i += 1
        var eneg = false
        if i < end && (p[i] == 45 || p[i] == 43) { eneg = p[i] == 45; i += 1 }
        var e = 0, ed = 0
        while i < end, p[i] >= 48, p[i] <= 57 { e = min(e * 10 + Int(p[i] - 48), 1000); i += 1; ed += 1 }
        if ed == 0 { return nil }
        scale += eneg ? -e : e
    }
    if i != end { return nil }
    var v = Double(mantissa)
    if scale != 0 {
        if scale > 0 { v = scale <= 22 ? v * powersOfTen[scale] : v * pow(10, Double(scale)) }
        else { v = -scale <= 22 ? v / powersOfTen[-scale] : v * pow(10, Double(scale)) }
    }
    return negative ? -v : v
}

/// A streaming CSV reader: reads the file in fixed chunks (bounded memory whatever the file size),
/// splits rows at byte level, strips RFC 4180 quotes, and hands each row to a callback. A gzip
/// file (found by its magic bytes, whatever its name: `.csv.gz`) is inflated as it is read, with
/// ``GzipReader``'s bomb check; a row longer than ``maxRowBytes`` is refused.
public struct CSVStream {
    public let path: String
    let chunkSize: Int
    /// At most this many fields per row are split; the rest are merged into the last.
    let maxFields: Int
    /// The field separator (`,`; a schema map may choose `;` or a tab).
    let delimiter: UInt8

    public init(path: String, chunkSize: Int = 1 << 22, maxFields: Int = 256, delimiter: UInt8 = 44) {
        self.path = path
        self.chunkSize = max(chunkSize, 1024)
        self.maxFields = maxFields
        self.delimiter = delimiter
    }

    /// Longest row accepted (a file without line breaks would otherwise be read into memory whole).
    public static let maxRowBytes = 64 << 20

    /// Calls `body` for every non-empty row (the header included, as line 1).
    /// Returns the number of rows seen. Throws `RiskError.unreadable` on I/O errors, a truncated,
    /// corrupt or bomb gzip file, or a row longer than ``maxRowBytes``.
    /// `progress` is called after every chunk read with the bytes read so far (of the file as
    /// stored: compressed bytes for a gzip file).
    @discardableResult
    public func forEachRow(progress: ((Int) -> Void)? = nil, _ body: (CSVRow) throws -> Void) throws -> Int {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw RiskError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var magic: (UInt8, UInt8) = (0, 0)
        let gzip: GzipReader?
        if pread(fd, &magic, 2, 0) == 2 && magic == (0x1f, 0x8b) {
            do { gzip = try GzipReader(fd: fd) } catch { throw RiskError.unreadable(path: path, reason: error.description) }
        } else {
            gzip = nil
        }
        /// Reads the next bytes (inflated for a gzip file); 0 at the end.
        func next(_ into: UnsafeMutablePointer<UInt8>, _ count: Int) throws -> Int {
            if let gzip {
                do { return try gzip.read(into: into, count: count) } catch { throw RiskError.unreadable(path: path, reason: error.description) }
            }
            let got = read(fd, into, count)
            if got < 0 { throw RiskError.unreadable(path: path, reason: String(cString: strerror(errno))) }
            return got
        }
        var capacity = chunkSize * 2
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        let starts = UnsafeMutablePointer<Int32>.allocate(capacity: maxFields)
        let ends = UnsafeMutablePointer<Int32>.allocate(capacity: maxFields)
        defer { buffer.deallocate(); starts.deallocate(); ends.deallocate() }
        var filled = 0
        var line = 0
        var rows = 0
        var eof = false
        var bytesRead = 0
        while !eof || filled > 0 {
            if !eof {
                if capacity - filled < chunkSize {
                    // A single row longer than the buffer: grow (rare; keeps memory bounded by the longest row).
                    guard capacity <= Self.maxRowBytes else {
                        throw RiskError.unreadable(path: path, reason: "line \(line + 1) is longer than \(Self.maxRowBytes >> 20) MiB (not a CSV of transactions?)")
                    }
                    let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                    bigger.update(from: buffer, count: filled)
                    buffer.deallocate(); buffer = bigger; capacity *= 2
                }
                let got = try next(buffer + filled, capacity - filled)
                if got == 0 { eof = true } else { filled += got; bytesRead += got; progress?(gzip?.compressedBytesRead ?? bytesRead) }
            }
            // Split every complete row in buffer[0..<filled]; keep the tail.
            var pos = 0
            while pos < filled {
                // Find the row end, respecting quotes.
                var i = pos
                var inQuotes = false
                var found = false
                while i < filled {
                    let c = buffer[i]
                    if c == 34 { inQuotes.toggle() } else if c == 10 && !inQuotes { found = true; break }
                    i += 1
                }
                if !found && !eof { break }
                let rowEnd = i
                line += 1
                var e = rowEnd
                if e > pos && buffer[e - 1] == 13 { e -= 1 }
                if e > pos {
                    let n = splitFields(buffer, pos, e, starts, ends)
                    rows += 1
                    try body(CSVRow(base: UnsafePointer(buffer), starts: starts, ends: ends, count: n, line: line))
                }
                pos = found ? rowEnd + 1 : filled
            }
            if pos > 0 {
                let rest = filled - pos
                if rest > 0 { (buffer).update(from: buffer + pos, count: rest) }
                filled = rest
            }
            if eof && filled == 0 { break }
        }
        return rows
    }

    private func splitFields(_ b: UnsafeMutablePointer<UInt8>, _ lo: Int, _ hi: Int,
                             _ starts: UnsafeMutablePointer<Int32>, _ ends: UnsafeMutablePointer<Int32>) -> Int {
        var n = 0
        var i = lo
        while true {
            if n == maxFields - 1 { starts[n] = Int32(i); ends[n] = Int32(hi); return n + 1 }
            if i < hi && b[i] == 34 {
                // Quoted field: unescape "" in place, stop at the closing quote.
                var r = i + 1, w = i + 1
                while r < hi {
                    if b[r] == 34 {
                        if r + 1 < hi && b[r + 1] == 34 { b[w] = 34; w += 1; r += 2; continue }
                        r += 1; break
                    }
                    b[w] = b[r]; w += 1; r += 1
                }
                starts[n] = Int32(i + 1); ends[n] = Int32(w)
                while r < hi && b[r] != delimiter { r += 1 }
                n += 1
                if r >= hi { return n }
                i = r + 1
            } else {
                var j = i
                while j < hi && b[j] != delimiter { j += 1 }
                starts[n] = Int32(i); ends[n] = Int32(j)
                n += 1
                if j >= hi { return n }
                i = j + 1
            }
        }
    }
}

/// Rows of `width` cells packed in one buffer (the bytes of every cell one after another, and
/// where each ends), so that a database batch reaches ``TransactionIngest`` without a `String`
/// per cell.
public struct PackedRows: Sendable {
    public let width: Int
    private(set) var bytes: [UInt8] = []
    private(set) var ends: [Int32] = []

    public init(width: Int) { self.width = max(width, 1) }

    /// Number of complete rows.
    public var count: Int { ends.count / width }

    /// Appends the next cell (nil: NULL, read as an empty cell).
    public mutating func append(_ cell: UnsafeRawBufferPointer?) {
        if let cell { bytes.append(contentsOf: cell) }
        ends.append(Int32(bytes.count))
    }

    /// Calls `body` with each row, numbered from `firstLine`.
    public func forEachRow(firstLine: Int, _ body: (CSVRow) throws -> Void) rethrows {
        var starts = [Int32](repeating: 0, count: ends.count + 1)
        for k in 1..<max(ends.count, 1) { starts[k] = ends[k - 1] }
        var ends = self.ends + [0]   // never empty (an empty array has no base address)
        var bytes = self.bytes + [0]
        try bytes.withUnsafeMutableBufferPointer { b in
            try starts.withUnsafeMutableBufferPointer { s in
                try ends.withUnsafeMutableBufferPointer { e in
                    for r in 0..<count {
                        try body(CSVRow(base: UnsafePointer(b.baseAddress!), starts: s.baseAddress! + r * width,
                                        ends: e.baseAddress! + r * width, count: width, line: firstLine + r))
                    }
                }
            }
        }
    }
}
