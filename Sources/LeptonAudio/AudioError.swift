// AudioError.swift: the one error type of LeptonAudio.

/// Everything that can go wrong while reading, resampling or writing audio.
///
/// Every case that concerns a file names it, so a program can print one clear line.
public enum AudioError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path does not exist (or is not a regular file).
    case fileNotFound(path: String)
    /// The file exists but holds zero bytes.
    case emptyFile(path: String)
    /// A well-formed header that announces zero audio frames.
    case noFrames(path: String)
    /// The header promises more data than the file holds, or the stream ends early.
    case truncated(path: String, detail: String)
    /// A recognised container whose header is damaged or inconsistent, or samples that are NaN/infinite.
    case malformed(path: String, detail: String)
    /// The bytes are not a container libsndfile recognises.
    case notAudio(path: String, detail: String)
    /// A recognised container with an encoding, channel count or rate this build cannot decode.
    case unsupported(path: String, detail: String)
    /// The header claims a duration beyond ``AudioLimits`` (a hostile or corrupt header).
    case absurdLength(path: String, seconds: Double, limitSeconds: Double)
    /// Reading failed part-way (I/O error or a corrupt packet).
    case readFailed(path: String, detail: String)
    /// Writing an output file failed.
    case writeFailed(path: String, detail: String)
    /// The resampler refused the request (bad ratio) or failed.
    case resampler(detail: String)
    /// A caller passed an argument outside its domain (e.g. a zero sample rate).
    case invalidArgument(detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such audio file"
        case .emptyFile(let path): return "\(path): the file is empty (0 bytes)"
        case .noFrames(let path): return "\(path): the file holds no audio frames"
        case .truncated(let path, let detail): return "\(path): truncated audio file: \(detail)"
        case .malformed(let path, let detail): return "\(path): malformed audio: \(detail)"
        case .notAudio(let path, let detail): return "\(path): not an audio file: \(detail)"
        case .unsupported(let path, let detail): return "\(path): unsupported audio: \(detail)"
        case .absurdLength(let path, let seconds, let limit):
            return "\(path): header claims \(String(format: "%.0f", seconds)) s of audio, above the limit of \(String(format: "%.0f", limit)) s"
        case .readFailed(let path, let detail): return "\(path): read error: \(detail)"
        case .writeFailed(let path, let detail): return "\(path): cannot write audio: \(detail)"
        case .resampler(let detail): return "resampler: \(detail)"
        case .invalidArgument(let detail): return "invalid argument: \(detail)"
        }
    }
}
