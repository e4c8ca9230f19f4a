// ImageError.swift: errors of the PNG decoder/encoder and the image helpers.

/// What can go wrong reading or writing a PNG, or with an image helper's arguments.
///
/// `path` is the file name, or "<memory>" (or a caller-chosen name) for in-memory data.
public enum ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file (or not a regular file) at the path.
    case fileNotFound(path: String)
    /// The file holds zero bytes.
    case emptyFile(path: String)
    /// The bytes do not start with the PNG signature.
    case notPNG(path: String, detail: String)
    /// The data ends before the image is complete.
    case truncated(path: String, detail: String)
    /// libpng rejected the data (bad CRC, bad zlib stream, invalid header, ...).
    case corrupt(path: String, detail: String)
    /// IHDR declares more pixels than ``PNGLimits`` allow (decompression-bomb defence).
    case tooLarge(path: String, width: Int, height: Int, detail: String)
    /// Memory could not be allocated.
    case outOfMemory(path: String)
    /// A helper or the encoder received arguments outside its domain.
    case invalidArgument(detail: String)
    /// Writing an output file failed.
    case writeFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such image file"
        case .emptyFile(let path): return "\(path): the file is empty (0 bytes)"
        case .notPNG(let path, let detail): return "\(path): not a PNG file: \(detail)"
        case .truncated(let path, let detail): return "\(path): truncated PNG: \(detail)"
        case .corrupt(let path, let detail): return "\(path): corrupt PNG: \(detail)"
        case .tooLarge(let path, let width, let height, let detail):
            return "\(path): refusing a \(width) x \(height) PNG: \(detail)"
        case .outOfMemory(let path): return "\(path): out of memory while decoding"
        case .invalidArgument(let detail): return "invalid image argument: \(detail)"
        case .writeFailed(let path, let detail): return "\(path): cannot write image: \(detail)"
        }
    }
}
