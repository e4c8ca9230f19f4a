import Foundation
import LeptonFiles

/// One array from a `.npy` file: float32/float64/int64/int32 data as Float32 (or Int64), or strings.
public struct NumpyArray: Sendable {
    public let shape: [Int]
    public let floats: [Float]
    public let integers: [Int64]
    public let strings: [String]

    /// The array as an engine tensor (float dtypes only; integers converted).
    public var tensor: Tensor {
        Tensor(shape: shape, scalars: floats.isEmpty ? integers.map(Float.init) : floats)
    }
}

/// Reads `.npz` archives (a ZIP of `.npy` files, entries stored or deflated) without Python.
///
/// Supports little-endian `<f4 <f8 <i8 <i4 <u1 <U<n>` arrays in C order; anything else is an error
/// naming the entry. Lengths are checked against the archive size before any allocation.
public enum NumpyArchive {
    /// Reads every entry of an `.npz` file; keys are entry names without `.npy`.
    public static func read(_ url: URL) throws -> [String: NumpyArray] {
        let data: [UInt8]
        do { data = [UInt8](try Data(contentsOf: url)) } catch {
            throw WeightFormatError.cannotRead(file: url.path, reason: error.localizedDescription)
        }
        return try parse(data, source: url.path)
    }

    /// Reads an `.npz` file into a strict `WeightStore` (float arrays only).
    public static func weightStore(_ url: URL) throws -> WeightStore {
        let arrays = try read(url)
        var entries: [String: WeightEntry] = [:]
        for (k, a) in arrays { entries[k] = WeightEntry(a.tensor) }
        return WeightStore(source: url.path, entries: entries)
    }

    static func parse(_ d: [UInt8], source: String) throws -> [String: NumpyArray] {
        func fail(_ r: String) -> WeightFormatError { .malformed(file: source, reason: r) }
        func le16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
        func le32(_ o: Int) -> Int { le16(o) | le16(o + 2) << 16 }
        // End of central directory: the last "PK\5\6" within 64 KiB + 22 bytes of the end.
        guard d.count >= 22 else { throw fail("not a zip archive (too short)") }
        var eocd = -1
        var i = d.count - 22
        while i >= max(0, d.count - 22 - 65_535) {
            if d[i] == 0x50, d[i + 1] == 0x4B, d[i + 2] == 5, d[i + 3] == 6 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail("not a zip archive (no end of central directory)") }
        let count = le16(eocd + 10)
        var p = le32(eocd + 16)
        var out: [String: NumpyArray] = [:]
        for _ in 0..<count {
            guard p + 46 <= d.count, le32(p) == 0x0201_4B50 else { throw fail("corrupt zip central directory") }
            let method = le16(p + 10)
            let csize = le32(p + 20), usize = le32(p + 24)
            let nlen = le16(p + 28), xlen = le16(p + 30), clen = le16(p + 32)
            let local = le32(p + 42)
            guard p + 46 + nlen <= d.count else { throw fail("corrupt zip entry name") }
            let name = String(decoding: d[(p + 46)..<(p + 46 + nlen)], as: UTF8.self)
            p += 46 + nlen + xlen + clen
            guard local + 30 <= d.count, le32(local) == 0x0403_4B50 else { throw fail("\(name): corrupt local header") }
            let start = local + 30 + le16(local + 26) + le16(local + 28)
            guard csize >= 0, start + csize <= d.count, usize < (1 << 31) else { throw fail("\(name): entry overruns the archive") }
            // Deflate expands at most 1032:1, so a larger declared size is a lie that would make
            // the inflater allocate up to 2 GiB for a few bytes of input (found by fuzzing).
            guard method != 8 || Inflate.isPossible(expected: usize, compressed: csize) else {
                throw fail("\(name): declared size \(usize) impossible for \(csize) compressed bytes")
            }
            let raw = Array(d[start..<(start + csize)])
            let bytes: [UInt8]
            switch method {
            case 0: bytes = raw
            case 8: bytes = try inflate(raw, expected: usize, name: name, source: source)
            default: throw fail("\(name): zip compression method \(method) not supported (stored or deflated only)")
            }
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            out[key] = try parseNpy(bytes, name: name, source: source)
        }
        return out
    }

    static func inflate(_ input: [UInt8], expected: Int, name: String, source: String) throws -> [UInt8] {
        do { return try Inflate.exact(input, expected: expected) } catch {
            throw WeightFormatError.malformed(file: source, reason: "\(name): deflated entry: \(error)")
        }
    }

    /// Parses one `.npy` (format 1.0/2.0/3.0).
    static func parseNpy(_ b: [UInt8], name: String, source: String) throws -> NumpyArray {
        func fail(_ r: String) -> WeightFormatError { .malformed(file: source, reason: "\(name): \(r)") }
        guard b.count >= 10, b[0] == 0x93, b[1] == 0x4E, b[2] == 0x55 else { throw fail("not a .npy array") }
        let major = b[6]
        let hlen: Int, hstart: Int
        if major == 1 { hlen = Int(b[8]) | Int(b[9]) << 8; hstart = 10 } else {
            guard b.count >= 12 else { throw fail("truncated header") }
            hlen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; hstart = 12
        }
        guard hstart + hlen <= b.count else { throw fail("truncated header") }
        let header = String(decoding: b[hstart..<(hstart + hlen)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'") else { throw fail("no descr") }
        let afterQ = descrField[descrField.index(after: q1)...]
        guard let q2 = afterQ.firstIndex(of: "'") else { throw fail("bad descr") }
        let descr = String(afterQ[..<q2])
        if let f = field("fortran_order"), f.hasPrefix("True") { throw fail("Fortran-order arrays are not supported") }
        // ")" must follow "(": a header like "'shape': )(" trapped on the reversed range (fuzzing).
        guard let sf = field("shape"), let o = sf.firstIndex(of: "("), let c = sf[o...].firstIndex(of: ")") else { throw fail("no shape") }
        let shape = sf[sf.index(after: o)..<c].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard shape.allSatisfy({ $0 >= 0 && $0 < (1 << 31) }) else { throw fail("bad shape") }
        // The element count and byte counts can overflow Int with several large dimensions.
        var n = 1
        for s in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: s)
            guard !overflow, p <= b.count else { throw fail("shape \(shape) larger than the file") }
            n = p
        }
        let body = Array(b[(hstart + hlen)...])
        func need(_ bytes: Int) throws {
            let (total, overflow) = n.multipliedReportingOverflow(by: bytes)
            if overflow || body.count < total { throw fail("data shorter than shape \(shape) × \(bytes) bytes") }
        }
        switch descr {
        case "<f4":
            try need(4)
            let f = body.withUnsafeBytes { raw in (0..<n).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) } }
            return NumpyArray(shape: shape, floats: f, integers: [], strings: [])
        case "<f8":
            try need(8)
            let f = body.withUnsafeBytes { raw in (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) } }
            return NumpyArray(shape: shape, floats: f, integers: [], strings: [])
        case "<i8":
            try need(8)
            let v = body.withUnsafeBytes { raw in (0..<n).map { Int64(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian) } }
            return NumpyArray(shape: shape, floats: [], integers: v, strings: [])
        case "<i4":
            try need(4)
            let v = body.withUnsafeBytes { raw in (0..<n).map { Int64(Int32(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian)) } }
            return NumpyArray(shape: shape, floats: [], integers: v, strings: [])
        case "|u1":
            try need(1)
            return NumpyArray(shape: shape, floats: [], integers: body[0..<n].map(Int64.init), strings: [])
        default:
            if descr.hasPrefix("<U"), let width = Int(descr.dropFirst(2)), width >= 0, width <= b.count {
                try need(4 * width)
                var strings: [String] = []
                for k in 0..<n {
                    var s = String.UnicodeScalarView()
                    for j in 0..<width {
                        let o = 4 * (k * width + j)
                        let v = UInt32(body[o]) | UInt32(body[o + 1]) << 8 | UInt32(body[o + 2]) << 16 | UInt32(body[o + 3]) << 24
                        if v == 0 { break }
                        if let u = Unicode.Scalar(v) { s.append(u) }
                    }
                    strings.append(String(s))
                }
                return NumpyArray(shape: shape, floats: [], integers: [], strings: strings)
            }
            throw fail("dtype \(descr) not supported")
        }
    }
}
