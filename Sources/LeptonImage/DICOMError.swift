/// Why a DICOM file could not be read or rendered. Every case names the file so that a batch
/// over a folder can report the bad one and go on.
public enum DICOMError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// Neither a Part 10 file ("DICM" at byte 128) nor a plausible raw data set.
    case notDICOM(file: String)
    /// The file ends inside an element (header or value).
    case truncated(file: String, offset: Int, what: String)
    /// An element claims a length that cannot be right (past the end of the file, odd where it must be even …).
    case absurdLength(file: String, tag: String, length: UInt32, offset: Int)
    /// The transfer syntax is known but its codec is not built in (JPEG, JPEG-LS, JPEG 2000 …).
    case unsupportedTransferSyntax(file: String, uid: String, name: String)
    /// A data set without (7FE0,0010) Pixel Data, such as a structured report.
    case noPixelData(file: String, sopClass: String)
    /// A required image attribute is missing or out of range.
    case badAttribute(file: String, attribute: String, reason: String)
    /// A frame number past the file's NumberOfFrames (`frame` 0-based, shown 1-based).
    case frameOutOfRange(file: String, frame: Int, frames: Int)
    /// Pixel data that does not decode (RLE segment overrun, fragment missing, deflate error …).
    case badPixelData(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(f, r): return "\(f): cannot read DICOM file: \(r)"
        case let .notDICOM(f): return "\(f): not a DICOM file (no DICM marker at byte 128 and no valid data set)"
        case let .truncated(f, o, w): return "\(f): DICOM file truncated at byte \(o) while reading \(w)"
        case let .absurdLength(f, t, l, o): return "\(f): element \(t) at byte \(o) claims an impossible length \(l)"
        case let .unsupportedTransferSyntax(f, u, n):
            return "\(f): transfer syntax \(n) (\(u)) is not supported by this build"
        case let .noPixelData(f, s): return "\(f): no pixel data (SOP class \(s.isEmpty ? "unknown" : s)); not an image"
        case let .badAttribute(f, a, r): return "\(f): DICOM attribute \(a) \(r)"
        case let .frameOutOfRange(f, n, count):
            return "\(f): frame \(n + 1) does not exist; the file has \(count) frame\(count == 1 ? "" : "s") (1…\(count))"
        case let .badPixelData(f, r): return "\(f): pixel data cannot be decoded: \(r)"
        }
    }
}
