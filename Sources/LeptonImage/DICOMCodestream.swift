import CDICOMCodecs
import Foundation

/// The codec family of an encapsulated transfer syntax this build decodes.
public enum DICOMCodec: String, Sendable {
    /// JPEG processes 1, 2/4 and 14 (.50, .51, .57, .70), through DCMTK's IJG 8/12/16-bit codecs.
    case jpeg = "JPEG"
    /// JPEG-LS lossless and near-lossless (.80, .81), through CharLS.
    case jpegLS = "JPEG-LS"
    /// JPEG 2000 lossless and lossy (.90, .91), through OpenJPEG.
    case jpeg2000 = "JPEG 2000"

    /// The codec of a transfer syntax UID, or nil when it is not one of the above.
    init?(transferSyntaxUID uid: String) {
        switch uid {
        case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70":
            self = .jpeg
        case "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81": self = .jpegLS
        case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91": self = .jpeg2000
        default: return nil
        }
    }
}

/// What a codestream's own header says about its frame, read in Swift before any library sees it,
/// so that a codestream that disagrees with the DICOM header (or claims absurd sizes) is refused
/// before a decoder allocates anything from it.
struct CodestreamGeometry: Equatable {
    var width: Int
    var height: Int
    var components: Int
    /// Largest sample precision in bits.
    var precision: Int
    /// JPEG 2000 tile grid size (1 for JPEG and JPEG-LS).
    var tiles: Int
}

enum DICOMCodestream {
    /// Most JPEG 2000 tiles accepted: OpenJPEG allocates coding parameters per tile from the header,
    /// and DICOM encoders write one tile or a few hundred.
    static let maxTiles = 4096

    /// Decodes one frame's codestream to little-endian bytes of `bitsAllocated / 8` per sample.
    /// - Returns: the bytes and whether they are plane by plane (JPEG-LS without interleave).
    static func decode(_ data: [UInt8], codec: DICOMCodec, rows: Int, columns: Int, samples: Int, bitsAllocated: Int,
                       photometric: String, file: String) throws -> (bytes: [UInt8], planar: Bool) {
        func bad(_ reason: String) -> DICOMError { .badPixelData(file: file, reason: "\(codec.rawValue) frame: \(reason)") }
        guard bitsAllocated == 8 || bitsAllocated == 16 else {
            throw bad("BitsAllocated \(bitsAllocated); compressed frames must be 8 or 16 bits")
        }
        let g: CodestreamGeometry
        do {
            g = codec == .jpeg2000 ? try j2kGeometry(data) : try jpegGeometry(data, jpegLS: codec == .jpegLS)
        } catch let reason as CodestreamReason { throw bad(reason.text) }
        guard g.width == columns, g.height == rows, g.components == samples else {
            throw bad("codestream is \(g.width) x \(g.height) with \(g.components) components, the DICOM header says \(columns) x \(rows) with \(samples)")
        }
        guard g.precision >= 1, g.precision <= bitsAllocated else {
            throw bad("codestream precision \(g.precision) bits does not fit BitsAllocated \(bitsAllocated)")
        }
        guard g.tiles >= 1, g.tiles <= maxTiles else { throw bad("\(g.tiles) tiles, over the limit of \(maxTiles)") }

        let count = rows * columns * samples
        var message = [CChar](repeating: 0, count: 256)
        var planar: Int32 = 0
        var rc: Int32
        // JPEG and JPEG-LS write one byte per sample up to 8 bits, two above; JPEG 2000 writes the DICOM size.
        let libraryBytes = codec == .jpeg2000 ? bitsAllocated / 8 : (g.precision > 8 ? 2 : 1)
        var out = [UInt8](repeating: 0, count: count * libraryBytes)
        rc = data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                message.withUnsafeMutableBufferPointer { msg in
                    switch codec {
                    case .jpeg:
                        return lepton_jpeg_decode(src.baseAddress, src.count, Int32(g.precision), photometric == "RGB" ? 1 : 0,
                                                  dst.baseAddress, dst.count, msg.baseAddress)
                    case .jpegLS:
                        return lepton_jpegls_decode(src.baseAddress, src.count, dst.baseAddress, dst.count, &planar, msg.baseAddress)
                    case .jpeg2000:
                        return lepton_j2k_decode(src.baseAddress, src.count, Int32(libraryBytes), Int32(maxTiles),
                                                 dst.baseAddress, dst.count, msg.baseAddress)
                    }
                }
            }
        }
        guard rc == 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw bad(text.isEmpty ? "the decoder failed" : text)
        }
        if libraryBytes == 2 && bitsAllocated == 16 {
            #if _endian(big)
            for i in 0..<count { out.swapAt(2 * i, 2 * i + 1) }
            #endif
        } else if libraryBytes == 1 && bitsAllocated == 16 {
            // An 8-bit codestream in 16-bit words: widen to little-endian pairs.
            var wide = [UInt8](repeating: 0, count: count * 2)
            for i in 0..<count { wide[2 * i] = out[i] }
            out = wide
        }
        return (out, planar != 0)
    }

    /// Why a codestream header was refused (kept inside this file; callers see a DICOMError).
    struct CodestreamReason: Error { let text: String }

    /// The frame header (SOFn, or SOF55 for JPEG-LS) of a JPEG codestream.
    static func jpegGeometry(_ d: [UInt8], jpegLS: Bool) throws -> CodestreamGeometry {
        guard d.count >= 4, d[0] == 0xFF, d[1] == 0xD8 else { throw CodestreamReason(text: "does not start with a JPEG SOI marker") }
        var i = 2
        while i + 1 < d.count {
            guard d[i] == 0xFF else { throw CodestreamReason(text: "no marker at byte \(i) before the frame header") }
            let m = d[i + 1]
            if m == 0xFF { i += 1; continue }  // fill byte
            if m == 0x01 || (0xD0...0xD7).contains(m) { i += 2; continue }  // markers without a length
            guard m != 0xD9, m != 0xDA else { throw CodestreamReason(text: "no frame header before the scan") }
            guard i + 4 <= d.count else { break }
            let len = Int(d[i + 2]) << 8 | Int(d[i + 3])
            guard len >= 2, i + 2 + len <= d.count else {
                throw CodestreamReason(text: "marker segment at byte \(i) claims \(len) bytes, past the end of the fragment")
            }
            let isSOF = jpegLS ? m == 0xF7 : (0xC0...0xCF).contains(m) && m != 0xC4 && m != 0xC8 && m != 0xCC
            if isSOF {
                guard len >= 8 else { throw CodestreamReason(text: "frame header of \(len) bytes is too short") }
                let p = d[i + 4], h = Int(d[i + 5]) << 8 | Int(d[i + 6]), w = Int(d[i + 7]) << 8 | Int(d[i + 8]), n = Int(d[i + 9])
                guard h > 0 else { throw CodestreamReason(text: "frame height 0 (DNL-defined heights are not supported)") }
                guard len >= 8 + 3 * n else { throw CodestreamReason(text: "frame header lists \(n) components in \(len) bytes") }
                return CodestreamGeometry(width: w, height: h, components: n, precision: Int(p), tiles: 1)
            }
            i += 2 + len
        }
        throw CodestreamReason(text: "truncated before the frame header")
    }

    /// The SIZ marker of a JPEG 2000 codestream (bare, or inside a JP2 file's codestream box).
    static func j2kGeometry(_ d: [UInt8]) throws -> CodestreamGeometry {
        // SOC immediately followed by SIZ; a JP2 wrapper puts a few hundred bytes of boxes first.
        var start: Int?
        var i = 0
        let limit = min(d.count - 4, 1 << 16)
        while i <= limit {
            if d[i] == 0xFF, d[i + 1] == 0x4F, d[i + 2] == 0xFF, d[i + 3] == 0x51 { start = i + 2; break }
            i += 1
        }
        guard let s = start else { throw CodestreamReason(text: "no JPEG 2000 SOC/SIZ marker") }
        func u16(_ o: Int) -> Int { Int(d[o]) << 8 | Int(d[o + 1]) }
        func u32(_ o: Int) -> Int { Int(d[o]) << 24 | Int(d[o + 1]) << 16 | Int(d[o + 2]) << 8 | Int(d[o + 3]) }
        guard s + 40 <= d.count else { throw CodestreamReason(text: "truncated inside the SIZ marker") }
        let len = u16(s + 2)
        let x = u32(s + 6), y = u32(s + 10), x0 = u32(s + 14), y0 = u32(s + 18)
        let tw = u32(s + 22), th = u32(s + 26), tx0 = u32(s + 30), ty0 = u32(s + 34), n = u16(s + 38)
        guard n >= 1, len == 38 + 3 * n, s + 2 + len <= d.count else {
            throw CodestreamReason(text: "SIZ marker of \(len) bytes for \(n) components does not fit the fragment")
        }
        guard x > x0, y > y0, tw > 0, th > 0, tx0 <= x0, ty0 <= y0, tx0 + tw > x0, ty0 + th > y0 else {
            throw CodestreamReason(text: "SIZ geometry is inconsistent (image \(x0)…\(x) x \(y0)…\(y), tiles \(tw) x \(th) from \(tx0),\(ty0))")
        }
        var precision = 0
        for c in 0..<n {
            let o = s + 40 + 3 * c
            precision = max(precision, Int(d[o] & 0x7F) + 1)
            guard d[o + 1] == 1, d[o + 2] == 1 else { throw CodestreamReason(text: "component \(c) is subsampled") }
        }
        let tiles = ((x - tx0 + tw - 1) / tw) * ((y - ty0 + th - 1) / th)
        return CodestreamGeometry(width: x - x0, height: y - y0, components: n, precision: precision, tiles: tiles)
    }
}
