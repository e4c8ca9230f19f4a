import Foundation
import LeptonFiles

/// A DICOM tag `(gggg,eeee)` packed as `group << 16 | element`.
public struct DICOMTag: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt32
    public init(_ group: UInt16, _ element: UInt16) { raw = UInt32(group) << 16 | UInt32(element) }
    public init(raw: UInt32) { self.raw = raw }
    public var group: UInt16 { UInt16(raw >> 16) }
    public var element: UInt16 { UInt16(raw & 0xFFFF) }
    public var description: String {
        let g = String(group, radix: 16, uppercase: true), e = String(element, radix: 16, uppercase: true)
        return "(" + String(repeating: "0", count: 4 - g.count) + g + "," + String(repeating: "0", count: 4 - e.count) + e + ")"
    }

    public static let transferSyntaxUID = DICOMTag(0x0002, 0x0010)
    public static let sopClassUID = DICOMTag(0x0008, 0x0016)
    public static let modality = DICOMTag(0x0008, 0x0060)
    public static let patientName = DICOMTag(0x0010, 0x0010)
    public static let patientID = DICOMTag(0x0010, 0x0020)
    public static let studyInstanceUID = DICOMTag(0x0020, 0x000D)
    public static let seriesInstanceUID = DICOMTag(0x0020, 0x000E)
    public static let instanceNumber = DICOMTag(0x0020, 0x0013)
    public static let accessionNumber = DICOMTag(0x0008, 0x0050)
    public static let samplesPerPixel = DICOMTag(0x0028, 0x0002)
    public static let photometricInterpretation = DICOMTag(0x0028, 0x0004)
    public static let planarConfiguration = DICOMTag(0x0028, 0x0006)
    public static let numberOfFrames = DICOMTag(0x0028, 0x0008)
    public static let rows = DICOMTag(0x0028, 0x0010)
    public static let columns = DICOMTag(0x0028, 0x0011)
    public static let bitsAllocated = DICOMTag(0x0028, 0x0100)
    public static let bitsStored = DICOMTag(0x0028, 0x0101)
    public static let pixelRepresentation = DICOMTag(0x0028, 0x0103)
    public static let windowCenter = DICOMTag(0x0028, 0x1050)
    public static let windowWidth = DICOMTag(0x0028, 0x1051)
    public static let rescaleIntercept = DICOMTag(0x0028, 0x1052)
    public static let rescaleSlope = DICOMTag(0x0028, 0x1053)
    public static let redPaletteDescriptor = DICOMTag(0x0028, 0x1101)
    public static let greenPaletteDescriptor = DICOMTag(0x0028, 0x1102)
    public static let bluePaletteDescriptor = DICOMTag(0x0028, 0x1103)
    public static let redPaletteData = DICOMTag(0x0028, 0x1201)
    public static let greenPaletteData = DICOMTag(0x0028, 0x1202)
    public static let bluePaletteData = DICOMTag(0x0028, 0x1203)
    public static let pixelData = DICOMTag(0x7FE0, 0x0010)
    static let item = DICOMTag(0xFFFE, 0xE000)
    static let itemDelimitation = DICOMTag(0xFFFE, 0xE00D)
    static let sequenceDelimitation = DICOMTag(0xFFFE, 0xE0DD)
}

/// The transfer syntaxes this reader knows by UID.
public enum DICOMTransferSyntax: Sendable, Equatable {
    case implicitLittle, explicitLittle, explicitBig, deflatedExplicitLittle, rleLossless
    /// A JPEG, JPEG-LS or JPEG 2000 syntax (decoded by the codec's library); carries its UID.
    case encapsulated(codec: DICOMCodec, uid: String)
    /// An encapsulated syntax whose codec is not built in; carries its UID and name.
    case unsupported(uid: String, name: String)

    init(uid: String) {
        switch uid {
        case "1.2.840.10008.1.2": self = .implicitLittle
        case "1.2.840.10008.1.2.1": self = .explicitLittle
        case "1.2.840.10008.1.2.2": self = .explicitBig
        case "1.2.840.10008.1.2.1.99": self = .deflatedExplicitLittle
        case "1.2.840.10008.1.2.5": self = .rleLossless
        default:
            if let codec = DICOMCodec(transferSyntaxUID: uid) { self = .encapsulated(codec: codec, uid: uid); return }
            self = .unsupported(uid: uid, name: DICOMTransferSyntax.names[uid] ?? "unknown transfer syntax")
        }
    }

    static let names: [String: String] = [
        "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
        "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 and 4)",
        "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
        "1.2.840.10008.1.2.4.70": "JPEG Lossless (Process 14, SV1)",
        "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90": "JPEG 2000 (Lossless Only)",
        "1.2.840.10008.1.2.4.91": "JPEG 2000",
        "1.2.840.10008.1.2.4.201": "HTJ2K (Lossless Only)",
        "1.2.840.10008.1.2.4.203": "HTJ2K",
        "1.2.840.10008.1.2.4.100": "MPEG2",
        "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
    ]

    var isExplicit: Bool { self != .implicitLittle }
    var isBigEndian: Bool { self == .explicitBig }
}

/// One top-level element: its VR (from the file, or from a small dictionary for implicit VR)
/// and its value bytes in the file's byte order. Sequences are skipped and kept only as a marker.
public struct DICOMElement: Sendable {
    public let tag: DICOMTag
    public let vr: String
    public let value: [UInt8]
    /// For encapsulated pixel data: the fragments after the Basic Offset Table, and that table.
    public let fragments: [[UInt8]]?
    public let offsetTable: [UInt32]
}

/// A parsed DICOM file: the top-level elements of the data set (sequence contents are walked for
/// framing but not kept) and the transfer syntax of the data set.
///
/// Hardened against hostile input: every length is checked against the bytes left, nesting depth
/// is bounded, and nothing is allocated from a claimed length before it is checked.
public struct DICOMDataSet: Sendable {
    public let file: String
    public let transferSyntaxUID: String
    public let transferSyntax: DICOMTransferSyntax
    public private(set) var elements: [DICOMTag: DICOMElement] = [:]
    /// Byte order of numeric values in `elements`.
    public let bigEndian: Bool

    /// Reads and parses a DICOM file; with `headerOnly`, parsing stops before the pixel data
    /// (for grouping files by their UIDs without decoding anything).
    public init(contentsOf url: URL, headerOnly: Bool = false) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DICOMError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        try self.init(bytes: [UInt8](data), file: url.path, headerOnly: headerOnly)
    }

    /// Parses DICOM bytes (Part 10 with preamble, or a bare implicit-VR little-endian data set).
    public init(bytes: [UInt8], file: String = "<memory>", headerOnly: Bool = false) throws {
        self.file = file
        var meta: [DICOMTag: DICOMElement] = [:]
        var start = 0
        if bytes.count >= 132, bytes[128] == 0x44, bytes[129] == 0x49, bytes[130] == 0x43, bytes[131] == 0x4D {
            // File meta group: always explicit VR little endian.
            var p = DICOMParser(bytes: bytes, file: file, explicit: true, bigEndian: false)
            p.offset = 132
            while p.offset + 4 <= bytes.count, p.peekGroup() == 0x0002 {
                guard let e = try p.readElement(depth: 0) else { break }
                meta[e.tag] = e
            }
            start = p.offset
        } else if bytes.count >= 8 {
            // No preamble: accept a bare data set only if it starts with a plausible low group.
            let g = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
            guard g == 0x0008 || g == 0x0002 else { throw DICOMError.notDICOM(file: file) }
        } else {
            throw DICOMError.notDICOM(file: file)
        }
        var uid = meta[.transferSyntaxUID].map { DICOMDataSet.string($0.value) } ?? "1.2.840.10008.1.2"
        if uid.isEmpty { uid = "1.2.840.10008.1.2" }
        transferSyntaxUID = uid
        transferSyntax = DICOMTransferSyntax(uid: uid)
        bigEndian = transferSyntax.isBigEndian
        elements = meta

        var body = bytes
        var bodyStart = start
        if transferSyntax == .deflatedExplicitLittle {
            body = try DICOMDataSet.inflateRaw(Array(bytes[start...]), file: file)
            bodyStart = 0
        }
        var p = DICOMParser(bytes: body, file: file, explicit: transferSyntax.isExplicit, bigEndian: bigEndian)
        p.offset = bodyStart
        while p.offset < body.count {
            if body.count - p.offset < 8 {
                // Trailing padding shorter than an element header: tolerated only if it is zeros.
                if body[p.offset...].allSatisfy({ $0 == 0 }) { break }
                throw DICOMError.truncated(file: file, offset: p.offset, what: "element header")
            }
            if headerOnly, p.peekGroup() >= 0x7FE0 { break }
            guard let e = try p.readElement(depth: 0) else { break }
            elements[e.tag] = e
        }
    }

    // MARK: Accessors

    /// The element's value as text (trailing spaces and NULs removed), or nil when absent.
    public func string(_ tag: DICOMTag) -> String? {
        guard let e = elements[tag] else { return nil }
        return DICOMDataSet.string(e.value)
    }

    /// All backslash-separated values of a decimal/integer string element (DS/IS) that are valid
    /// and finite; anything else ("NaN", "inf", "1e999", "0x10") is left out. Use
    /// ``decimals(_:attribute:integer:)`` to reject such a value instead.
    public func numbers(_ tag: DICOMTag) -> [Double] {
        guard let s = string(tag) else { return [] }
        return s.split(separator: "\\", omittingEmptySubsequences: false).compactMap { DICOMDataSet.parseDecimal($0, integer: false) }
    }

    /// The first value of a DS/IS element.
    public func number(_ tag: DICOMTag) -> Double? { numbers(tag).first }

    /// Every backslash-separated value of a DS (or, with `integer`, IS) element, strictly parsed:
    /// the PS3.5 6.2 grammar (`[+-]digits[.digits][E[+-]digits]`, spaces around allowed) and a
    /// finite result. Swift's `Double("nan")`, `Double("inf")` and `Double("1e999")` (= inf) would
    /// otherwise reach integer conversions and trap. Empty when the element is absent or empty.
    /// - Throws: ``DICOMError/badAttribute(file:attribute:reason:)`` naming `attribute` and the value.
    public func decimals(_ tag: DICOMTag, attribute: String, integer: Bool = false) throws -> [Double] {
        guard let s = string(tag), !s.isEmpty else { return [] }
        return try s.split(separator: "\\", omittingEmptySubsequences: false).map { part in
            guard let v = DICOMDataSet.parseDecimal(part, integer: integer) else {
                let shown = part.count > 24 ? String(part.prefix(24)) + "…" : String(part)
                throw DICOMError.badAttribute(file: file, attribute: attribute,
                                              reason: "is '\(shown)', not a finite \(integer ? "integer" : "decimal") string")
            }
            return v
        }
    }

    /// A DS/IS value by the PS3.5 grammar, or nil (also for values that overflow to infinity).
    static func parseDecimal(_ raw: Substring, integer: Bool) -> Double? {
        let t = raw.trimmingCharacters(in: .whitespaces)
        var u = Array(t.utf8)[...]
        guard !u.isEmpty, u.count <= 64 else { return nil }
        if u.first == UInt8(ascii: "+") || u.first == UInt8(ascii: "-") { u = u.dropFirst() }
        func digits() -> Int { var n = 0; while let c = u.first, c >= 0x30, c <= 0x39 { u = u.dropFirst(); n += 1 }; return n }
        var mantissa = digits()
        if !integer, u.first == UInt8(ascii: ".") { u = u.dropFirst(); mantissa += digits() }
        guard mantissa > 0 else { return nil }
        if !integer, u.first == UInt8(ascii: "e") || u.first == UInt8(ascii: "E") {
            u = u.dropFirst()
            if u.first == UInt8(ascii: "+") || u.first == UInt8(ascii: "-") { u = u.dropFirst() }
            guard digits() > 0 else { return nil }
        }
        guard u.isEmpty, let v = Double(t), v.isFinite else { return nil }
        return v
    }

    /// The `index`-th value of a US/SS element (16-bit), honouring the byte order; `signed` for SS.
    public func uint16(_ tag: DICOMTag, index: Int = 0) -> UInt16? {
        guard let e = elements[tag], e.value.count >= 2 * (index + 1) else { return nil }
        let a = UInt16(e.value[2 * index]), b = UInt16(e.value[2 * index + 1])
        return bigEndian ? (a << 8 | b) : (b << 8 | a)
    }

    static func string(_ bytes: [UInt8]) -> String {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x20 || bytes[end - 1] == 0 { end -= 1 }
        return String(decoding: bytes[0..<end], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// Inflates the raw (headerless) deflate stream of the Deflated Explicit VR syntax. Output is
    /// capped at 1 GiB so that a deflate bomb fails cleanly instead of exhausting memory.
    static func inflateRaw(_ input: [UInt8], file: String) throws -> [UInt8] {
        do { return try Inflate.bounded(input, limit: 1 << 30) } catch {
            throw DICOMError.badPixelData(file: file, reason: "deflated data set: \(error)")
        }
    }
}

/// A cursor over DICOM bytes in one encoding (explicit/implicit VR, little/big endian).
struct DICOMParser {
    let bytes: [UInt8]
    let file: String
    let explicit: Bool
    let bigEndian: Bool
    var offset = 0
    static let maxDepth = 32

    init(bytes: [UInt8], file: String, explicit: Bool, bigEndian: Bool) {
        self.bytes = bytes; self.file = file; self.explicit = explicit; self.bigEndian = bigEndian
    }

    func peekGroup() -> UInt16 {
        let a = UInt16(bytes[offset]), b = UInt16(bytes[offset + 1])
        return bigEndian ? (a << 8 | b) : (b << 8 | a)
    }

    mutating func u16(_ what: String) throws -> UInt16 {
        guard offset + 2 <= bytes.count else { throw DICOMError.truncated(file: file, offset: offset, what: what) }
        let a = UInt16(bytes[offset]), b = UInt16(bytes[offset + 1])
        offset += 2
        return bigEndian ? (a << 8 | b) : (b << 8 | a)
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw DICOMError.truncated(file: file, offset: offset, what: what) }
        let b0 = UInt32(bytes[offset]), b1 = UInt32(bytes[offset + 1]), b2 = UInt32(bytes[offset + 2]), b3 = UInt32(bytes[offset + 3])
        offset += 4
        return bigEndian ? (b0 << 24 | b1 << 16 | b2 << 8 | b3) : (b3 << 24 | b2 << 16 | b1 << 8 | b0)
    }

    /// Item tags are encoded in the data set's byte order like any other tag.
    mutating func tag(_ what: String) throws -> DICOMTag {
        let g = try u16(what), e = try u16(what)
        return DICOMTag(g, e)
    }

    /// VRs whose explicit encoding has two reserved bytes and a 32-bit length.
    static let longVRs: Set<String> = ["OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UT", "UN", "UC", "UR", "SV", "UV"]

    /// Reads one element at the cursor; returns nil at a sequence/item delimiter at top level.
    mutating func readElement(depth: Int) throws -> DICOMElement? {
        let at = offset
        let t = try tag("element tag")
        var vr = ""
        var length: UInt32
        if t.group == 0xFFFE {
            // Delimiters and items have no VR in any syntax.
            length = try u32("item length")
            if t == .itemDelimitation || t == .sequenceDelimitation { return nil }
            throw DICOMError.badPixelData(file: file, reason: "unexpected item tag \(t) at byte \(at)")
        }
        if explicit {
            guard offset + 2 <= bytes.count else { throw DICOMError.truncated(file: file, offset: offset, what: "VR of \(t)") }
            vr = String(decoding: bytes[offset..<offset + 2], as: UTF8.self)
            offset += 2
            if DICOMParser.longVRs.contains(vr) {
                offset += 2
                length = try u32("length of \(t)")
            } else if vr.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) {
                length = UInt32(try u16("length of \(t)"))
            } else {
                throw DICOMError.absurdLength(file: file, tag: t.description, length: 0, offset: at)
            }
        } else {
            length = try u32("length of \(t)")
            vr = DICOMParser.implicitVR(t)
        }

        if length == 0xFFFF_FFFF {
            if t == .pixelData {
                let (offsets, frags) = try readFragments(tag: t)
                return DICOMElement(tag: t, vr: vr.isEmpty ? "OB" : vr, value: [], fragments: frags, offsetTable: offsets)
            }
            // Undefined length: a sequence (SQ, or UN / implicit element holding one).
            try skipSequence(depth: depth + 1, tag: t)
            return DICOMElement(tag: t, vr: "SQ", value: [], fragments: nil, offsetTable: [])
        }
        guard Int(length) <= bytes.count - offset else {
            throw DICOMError.absurdLength(file: file, tag: t.description, length: length, offset: at)
        }
        let end = offset + Int(length)
        if vr == "SQ" {
            // Defined-length sequence: walk it for consistency checks only.
            offset = end
            return DICOMElement(tag: t, vr: vr, value: [], fragments: nil, offsetTable: [])
        }
        let value = Array(bytes[offset..<end])
        offset = end
        return DICOMElement(tag: t, vr: vr, value: value, fragments: nil, offsetTable: [])
    }

    /// Skips an undefined-length sequence: items until the sequence delimiter.
    mutating func skipSequence(depth: Int, tag: DICOMTag) throws {
        guard depth <= DICOMParser.maxDepth else {
            throw DICOMError.badPixelData(file: file, reason: "sequences nested deeper than \(DICOMParser.maxDepth) at \(tag)")
        }
        while true {
            let at = offset
            let t = try self.tag("item in \(tag)")
            let len = try u32("item length in \(tag)")
            if t == .sequenceDelimitation { return }
            guard t == .item else { throw DICOMError.badPixelData(file: file, reason: "expected item in sequence \(tag) at byte \(at), found \(t)") }
            if len == 0xFFFF_FFFF {
                // Undefined-length item: elements until the item delimiter.
                while true {
                    if offset + 8 > bytes.count { throw DICOMError.truncated(file: file, offset: offset, what: "item of \(tag)") }
                    if try readElement(depth: depth + 1) == nil { break }
                }
            } else {
                guard Int(len) <= bytes.count - offset else {
                    throw DICOMError.absurdLength(file: file, tag: tag.description, length: len, offset: at)
                }
                offset += Int(len)
            }
        }
    }

    /// Reads encapsulated pixel data: the Basic Offset Table item, then fragment items until the delimiter.
    mutating func readFragments(tag: DICOMTag) throws -> ([UInt32], [[UInt8]]) {
        var items: [[UInt8]] = []
        while true {
            let at = offset
            let t = try self.tag("pixel data item")
            let len = try u32("pixel data item length")
            if t == .sequenceDelimitation { break }
            guard t == .item else { throw DICOMError.badPixelData(file: file, reason: "expected fragment item at byte \(at), found \(t)") }
            guard len != 0xFFFF_FFFF, Int(len) <= bytes.count - offset else {
                throw DICOMError.absurdLength(file: file, tag: "\(tag) fragment", length: len, offset: at)
            }
            items.append(Array(bytes[offset..<offset + Int(len)]))
            offset += Int(len)
        }
        guard let bot = items.first else { throw DICOMError.badPixelData(file: file, reason: "encapsulated pixel data has no items") }
        var offsets: [UInt32] = []
        var i = 0
        while i + 4 <= bot.count {
            let v = UInt32(bot[i]) | UInt32(bot[i + 1]) << 8 | UInt32(bot[i + 2]) << 16 | UInt32(bot[i + 3]) << 24
            offsets.append(v); i += 4
        }
        return (offsets, Array(items.dropFirst()))
    }

    /// The VR of the attributes this reader interprets, for implicit-VR files (PS3.6 dictionary excerpt).
    static func implicitVR(_ t: DICOMTag) -> String {
        switch t.raw {
        case 0x0028_0002, 0x0028_0006, 0x0028_0010, 0x0028_0011, 0x0028_0100, 0x0028_0101, 0x0028_0102, 0x0028_0103:
            return "US"
        case 0x0028_1101, 0x0028_1102, 0x0028_1103: return "US"
        case 0x0028_1201, 0x0028_1202, 0x0028_1203, 0x7FE0_0010: return "OW"
        case 0x0028_1050, 0x0028_1051, 0x0028_1052, 0x0028_1053: return "DS"
        case 0x0028_0008: return "IS"
        default: return ""
        }
    }
}
