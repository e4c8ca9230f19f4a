import Foundation

/// One frame of a DICOM image (the first unless another is asked for), decoded to stored values,
/// with what is needed to display it.
///
/// `samples` holds the stored pixel values of that frame, sign-extended when PixelRepresentation is 1,
/// interleaved by sample (`[rows, columns, samplesPerPixel]`), what pydicom's `pixel_array` gives
/// for uncompressed, deflated, RLE and lossless JPEG-family data (palette indices stay indices;
/// YBR_FULL stays YBR until `rendered()`). Lossy JPEG and JPEG 2000 frames are the codec library's
/// reconstruction, which may differ from another decoder's by rounding.
public struct DICOMImage: Sendable {
    public let rows: Int
    public let columns: Int
    public let samplesPerPixel: Int
    public let bitsAllocated: Int
    public let bitsStored: Int
    public let isSigned: Bool
    public let frames: Int
    /// Which frame `samples` holds, 0-based (`frames` is the count).
    public let frameIndex: Int
    public let photometric: String
    public let modality: String
    public let transferSyntaxUID: String
    /// Stored values of frame `frameIndex`, `[rows, columns, samplesPerPixel]`.
    public let samples: [Int32]
    public let rescaleSlope: Double
    public let rescaleIntercept: Double
    /// First Window Center / Width pair, when present and the width is positive.
    public let window: (center: Double, width: Double)?
    /// Palette (red, green, blue) 8-bit lookup tables and the first mapped index, for PALETTE COLOR.
    let palette: (first: Int, red: [UInt8], green: [UInt8], blue: [UInt8])?

    /// Most pixels per frame accepted (as PNGLimits): RLE and deflate can claim far more than the
    /// file holds, and every pixel costs tens of bytes on the way to a rendering.
    public static let maxPixels = 64 << 20
    /// Largest magnitude accepted in RescaleSlope/Intercept and WindowCenter/Width (slopes also no
    /// smaller than its inverse): far beyond real modalities, small enough that nothing overflows.
    public static let maxMagnitude = 1e12

    /// Reads one frame (0-based; the first by default) of a DICOM file.
    public init(contentsOf url: URL, frame: Int = 0) throws {
        try self.init(dataSet: DICOMDataSet(contentsOf: url), frame: frame)
    }

    /// Decodes one frame (0-based; the first by default) of a parsed data set.
    /// - Throws: ``DICOMError/frameOutOfRange(file:frame:frames:)`` when the file has fewer frames.
    public init(dataSet ds: DICOMDataSet, frame requested: Int = 0) throws {
        let file = ds.file
        guard let pixel = ds.elements[.pixelData] else {
            throw DICOMError.noPixelData(file: file, sopClass: ds.string(.sopClassUID) ?? "")
        }
        if case let .unsupported(uid, name) = ds.transferSyntax {
            throw DICOMError.unsupportedTransferSyntax(file: file, uid: uid, name: name)
        }
        func need(_ tag: DICOMTag, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = ds.uint16(tag) else { throw DICOMError.badAttribute(file: file, attribute: name, reason: "is missing") }
            guard range.contains(Int(v)) else { throw DICOMError.badAttribute(file: file, attribute: name, reason: "is \(v), outside \(range)") }
            return Int(v)
        }
        rows = try need(.rows, "Rows", 1...65535)
        columns = try need(.columns, "Columns", 1...65535)
        samplesPerPixel = ds.uint16(.samplesPerPixel).map(Int.init) ?? 1
        guard samplesPerPixel == 1 || samplesPerPixel == 3 else {
            throw DICOMError.badAttribute(file: file, attribute: "SamplesPerPixel", reason: "is \(samplesPerPixel), expected 1 or 3")
        }
        bitsAllocated = try need(.bitsAllocated, "BitsAllocated", 1...32)
        guard bitsAllocated == 8 || bitsAllocated == 16 || bitsAllocated == 32 else {
            throw DICOMError.badAttribute(file: file, attribute: "BitsAllocated", reason: "is \(bitsAllocated); only 8, 16 and 32 are supported")
        }
        let alloc = bitsAllocated
        bitsStored = ds.uint16(.bitsStored).map { min(max(Int($0), 1), alloc) } ?? alloc
        isSigned = ds.uint16(.pixelRepresentation) == 1
        guard rows * columns <= DICOMImage.maxPixels else {
            throw DICOMError.badAttribute(file: file, attribute: "Rows x Columns",
                                          reason: "is \(rows) x \(columns) = \(rows * columns) pixels, over the limit of \(DICOMImage.maxPixels)")
        }
        // Every numeric string is checked before use: NaN, inf or 1e308 here used to reach Int(…) or
        // UInt8(…) in rendering and trap. The bounds keep stored × slope + intercept finite.
        func values(_ tag: DICOMTag, _ name: String, integer: Bool = false, within range: ClosedRange<Double>) throws -> [Double] {
            let v = try ds.decimals(tag, attribute: name, integer: integer)
            if let bad = v.first(where: { !range.contains(abs($0)) }) {
                throw DICOMError.badAttribute(file: file, attribute: name, reason: "is \(bad), outside the accepted magnitude \(range.lowerBound)…\(range.upperBound)")
            }
            return v
        }
        let frameCount = try values(.numberOfFrames, "NumberOfFrames", integer: true, within: 0...Double(Int32.max)).first ?? 1
        guard frameCount >= 0 else {
            throw DICOMError.badAttribute(file: file, attribute: "NumberOfFrames", reason: "is \(Int(frameCount)), negative")
        }
        frames = max(1, Int(frameCount))
        guard requested >= 0, requested < frames else {
            throw DICOMError.frameOutOfRange(file: file, frame: requested, frames: frames)
        }
        frameIndex = requested
        photometric = ds.string(.photometricInterpretation)?.uppercased() ?? (samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")
        modality = ds.string(.modality) ?? ""
        transferSyntaxUID = ds.transferSyntaxUID
        let slope = try values(.rescaleSlope, "RescaleSlope", within: 0...DICOMImage.maxMagnitude).first ?? 1
        guard slope == 0 || abs(slope) >= 1 / DICOMImage.maxMagnitude else {
            throw DICOMError.badAttribute(file: file, attribute: "RescaleSlope", reason: "is \(slope), too close to zero")
        }
        rescaleSlope = slope == 0 ? 1 : slope
        rescaleIntercept = try values(.rescaleIntercept, "RescaleIntercept", within: 0...DICOMImage.maxMagnitude).first ?? 0
        let centers = try values(.windowCenter, "WindowCenter", within: 0...DICOMImage.maxMagnitude)
        let widths = try values(.windowWidth, "WindowWidth", within: 0...DICOMImage.maxMagnitude)
        if let c = centers.first, let w = widths.first, w > 0 { window = (c, w) } else { window = nil }

        let pixelCount = rows * columns
        let bytesPerSample = bitsAllocated / 8
        let frameBytes = pixelCount * samplesPerPixel * bytesPerSample
        // The frame as little-endian bytes from `base`, interleaved (planar data is reordered below).
        var frame: [UInt8]
        var base = 0
        var planar = ds.uint16(.planarConfiguration) == 1 && samplesPerPixel > 1
        if let frags = pixel.fragments {
            let data = try DICOMImage.frameFragments(frags, offsets: pixel.offsetTable, frames: frames, index: requested,
                                                     transferSyntax: ds.transferSyntax, file: file)
            switch ds.transferSyntax {
            case .rleLossless:
                frame = try RLEDecoder.decode(data, pixelCount: pixelCount, samples: samplesPerPixel,
                                              bytesPerSample: bytesPerSample, file: file)
                planar = samplesPerPixel > 1  // RLE segments are always by plane
            case let .encapsulated(codec, _):
                (frame, planar) = try DICOMCodestream.decode(data, codec: codec, rows: rows, columns: columns, samples: samplesPerPixel,
                                                             bitsAllocated: bitsAllocated, photometric: photometric, file: file)
            default:
                throw DICOMError.badPixelData(file: file, reason: "encapsulated pixel data in a native transfer syntax")
            }
        } else {
            let (start, end) = requested.multipliedReportingOverflow(by: frameBytes).overflow ? (Int.max, Int.max)
                : (requested * frameBytes, requested * frameBytes + frameBytes)
            guard end <= pixel.value.count else {
                throw DICOMError.badPixelData(file: file, reason: "pixel data has \(pixel.value.count) bytes, frame \(requested + 1) of \(frames) needs bytes \(start)..<\(end)")
            }
            // Little endian: unpack reads the frame straight from the element (no copy of the pixel data).
            base = start
            frame = ds.bigEndian ? Array(pixel.value[start..<end]) : pixel.value
            if ds.bigEndian { base = 0 }
            if ds.bigEndian && bytesPerSample > 1 {
                // Explicit VR Big Endian stores each word most significant byte first.
                var i = 0
                while i + bytesPerSample <= frame.count {
                    frame[i..<i + bytesPerSample].reverse()
                    i += bytesPerSample
                }
            } else if ds.bigEndian && pixel.vr == "OW" && bytesPerSample == 1 {
                // 8-bit samples in an OW value: big endian swaps each byte pair.
                var i = 0
                while i + 1 < frame.count { frame.swapAt(i, i + 1); i += 2 }
            }
        }
        samples = DICOMImage.unpack(frame, from: base, pixelCount: pixelCount, samples: samplesPerPixel, bytesPerSample: bytesPerSample,
                                    bitsStored: bitsStored, signed: isSigned, planar: planar)

        if photometric == "PALETTE COLOR" {
            palette = try DICOMImage.readPalette(ds, file: file)
        } else {
            palette = nil
        }
    }

    /// The data of frame `index` from encapsulated fragments (PS3.5 A.4): all fragments for a
    /// single frame; by the Basic Offset Table when there is one; one fragment per frame when the
    /// counts agree; else fragments grouped at each codestream start marker (JPEG SOI, JPEG 2000
    /// SOC or a JP2 signature). A table or grouping that does not give exactly `frames` frames is
    /// a ``DICOMError/badPixelData(file:reason:)`` naming the problem.
    static func frameFragments(_ frags: [[UInt8]], offsets: [UInt32], frames: Int, index: Int,
                               transferSyntax: DICOMTransferSyntax, file: String) throws -> [UInt8] {
        func bad(_ reason: String) -> DICOMError { .badPixelData(file: file, reason: reason) }
        guard !frags.isEmpty else { throw bad("no fragments") }
        if frames == 1 { return frags.reduce(into: []) { $0 += $1 } }
        // Item offset of each fragment, counted from the first fragment's item tag.
        var starts: [UInt64] = [], pos: UInt64 = 0
        for f in frags { starts.append(pos); pos += UInt64(f.count) + 8 }
        var groups: [Range<Int>]
        if !offsets.isEmpty {
            guard offsets.count == frames else {
                throw bad("basic offset table has \(offsets.count) entries for \(frames) frames")
            }
            groups = []
            for (i, o) in offsets.enumerated() {
                guard let first = starts.firstIndex(of: UInt64(o)) else {
                    throw bad("basic offset table entry \(i) (\(o)) is not the start of a fragment")
                }
                if let prev = groups.last {
                    guard first > prev.lowerBound else { throw bad("basic offset table entry \(i) (\(o)) does not increase") }
                    groups[groups.count - 1] = prev.lowerBound..<first
                } else if first != 0 {
                    throw bad("basic offset table starts at \(o), not at the first fragment")
                }
                groups.append(first..<frags.count)
            }
        } else if frags.count == frames {
            groups = frags.indices.map { $0..<$0 + 1 }
        } else {
            // Several fragments per frame without a table: a new frame starts with a codestream marker.
            func startsCodestream(_ f: [UInt8]) -> Bool {
                guard f.count >= 4 else { return false }
                switch transferSyntax {
                case .encapsulated(.jpeg2000, _):
                    return (f[0] == 0xFF && f[1] == 0x4F && f[2] == 0xFF && f[3] == 0x51) || (f[0] == 0 && f[1] == 0 && f[2] == 0 && f[3] == 0x0C)
                case .encapsulated:
                    return f[0] == 0xFF && f[1] == 0xD8
                default:
                    return false
                }
            }
            let firsts = frags.indices.filter { $0 == 0 || startsCodestream(frags[$0]) }
            groups = firsts.enumerated().map { k, first in first..<(k + 1 < firsts.count ? firsts[k + 1] : frags.count) }
            guard groups.count == frames else {
                throw bad("\(frags.count) fragments without an offset table form \(groups.count) frames, NumberOfFrames is \(frames)")
            }
        }
        return frags[groups[index]].reduce(into: []) { $0 += $1 }
    }

    /// Little-endian bytes from `base` → stored values, sign-extended from `bitsStored` when signed.
    static func unpack(_ b: [UInt8], from base: Int = 0, pixelCount: Int, samples: Int, bytesPerSample: Int, bitsStored: Int,
                       signed: Bool, planar: Bool) -> [Int32] {
        let n = pixelCount * samples
        var out = [Int32](repeating: 0, count: n)
        let shift = 32 - bitsStored
        for i in 0..<n {
            // Destination i = pixel p, sample s; its source index depends on the planar configuration.
            let p = i / samples, s = i % samples
            let src = planar ? s * pixelCount + p : i
            let o = base + src * bytesPerSample
            var v: UInt32 = 0
            for k in 0..<bytesPerSample { v |= UInt32(b[o + k]) << (8 * k) }
            if signed {
                out[i] = Int32(bitPattern: v << shift) >> shift
            } else {
                out[i] = Int32(bitPattern: v)
            }
        }
        return out
    }

    static func readPalette(_ ds: DICOMDataSet, file: String) throws -> (first: Int, red: [UInt8], green: [UInt8], blue: [UInt8]) {
        func lut(_ d: DICOMTag, _ data: DICOMTag, _ name: String) throws -> (Int, [UInt8]) {
            guard let n0 = ds.uint16(d, index: 0), let first = ds.uint16(d, index: 1), let bits = ds.uint16(d, index: 2),
                  let raw = ds.elements[data]?.value else {
                throw DICOMError.badAttribute(file: file, attribute: name + " palette", reason: "is missing or incomplete")
            }
            let n = n0 == 0 ? 65536 : Int(n0)
            var table = [UInt8](repeating: 0, count: n)
            if raw.count >= 2 * n {
                for i in 0..<n {
                    let a = UInt16(raw[2 * i]), b = UInt16(raw[2 * i + 1])
                    let v = ds.bigEndian ? (a << 8 | b) : (b << 8 | a)
                    table[i] = bits > 8 ? UInt8(v >> 8) : UInt8(truncatingIfNeeded: v)
                }
            } else if raw.count >= n && bits <= 8 {
                for i in 0..<n { table[i] = raw[i] }
            } else {
                throw DICOMError.badAttribute(file: file, attribute: name + " palette", reason: "has \(raw.count) bytes for \(n) entries")
            }
            return (Int(first), table)
        }
        let (first, r) = try lut(.redPaletteDescriptor, .redPaletteData, "red")
        let (_, g) = try lut(.greenPaletteDescriptor, .greenPaletteData, "green")
        let (_, b) = try lut(.bluePaletteDescriptor, .bluePaletteData, "blue")
        return (first, r, g, b)
    }
}

/// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, then one PackBits
/// segment per byte plane (most significant byte of each sample first).
enum RLEDecoder {
    /// Returns planar little-endian bytes: plane `s` holds sample `s` of every pixel.
    static func decode(_ d: [UInt8], pixelCount: Int, samples: Int, bytesPerSample: Int, file: String) throws -> [UInt8] {
        guard d.count >= 64 else { throw DICOMError.badPixelData(file: file, reason: "RLE header shorter than 64 bytes") }
        func le32(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 | Int(d[o + 2]) << 16 | Int(d[o + 3]) << 24 }
        let nseg = le32(0)
        let expected = samples * bytesPerSample
        guard nseg == expected else {
            throw DICOMError.badPixelData(file: file, reason: "RLE has \(nseg) segments, expected \(expected)")
        }
        var out = [UInt8](repeating: 0, count: pixelCount * samples * bytesPerSample)
        for seg in 0..<nseg {
            let start = le32(4 + 4 * seg)
            let end = seg + 1 < nseg ? le32(8 + 4 * seg) : d.count
            guard start >= 64, start <= end, end <= d.count else {
                throw DICOMError.badPixelData(file: file, reason: "RLE segment \(seg) offsets \(start)..<\(end) outside \(d.count) bytes")
            }
            let sample = seg / bytesPerSample
            let byteIndex = bytesPerSample - 1 - seg % bytesPerSample  // first segment = most significant byte
            var written = 0
            var i = start
            // Decoded bytes go to sample plane `sample`, pixel `written`, byte `byteIndex`.
            let base = sample * pixelCount
            while i < end && written < pixelCount {
                let n = Int(Int8(bitPattern: d[i])); i += 1
                if n >= 0 {
                    let count = n + 1
                    guard i + count <= end else { throw DICOMError.badPixelData(file: file, reason: "RLE literal run overruns segment \(seg)") }
                    for k in 0..<min(count, pixelCount - written) {
                        out[(base + written + k) * bytesPerSample + byteIndex] = d[i + k]
                    }
                    written += min(count, pixelCount - written); i += count
                } else if n != -128 {
                    let count = 1 - n
                    guard i < end else { throw DICOMError.badPixelData(file: file, reason: "RLE replicate run overruns segment \(seg)") }
                    let v = d[i]; i += 1
                    for k in 0..<min(count, pixelCount - written) { out[(base + written + k) * bytesPerSample + byteIndex] = v }
                    written += min(count, pixelCount - written)
                }
            }
            guard written == pixelCount else {
                throw DICOMError.badPixelData(file: file, reason: "RLE segment \(seg) decodes to \(written) of \(pixelCount) bytes")
            }
        }
        return out
    }
}
