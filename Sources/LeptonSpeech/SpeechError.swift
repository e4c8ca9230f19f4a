import Foundation

/// Everything that can go wrong in LeptonSpeech, with the file or weight it concerns.
public enum SpeechError: Error, CustomStringConvertible {
    /// The model folder lacks a file or a file is unreadable/corrupt.
    case model(path: String, reason: String)
    /// A checkpoint weight is missing, unused or mis-shaped (strict loading).
    case weight(name: String, reason: String)
    /// The audio could not be decoded.
    case audio(path: String, reason: String)
    /// A token id outside the vocabulary.
    case token(id: Int)

    public var description: String {
        switch self {
        case let .model(p, r): return "\(p): \(r)"
        case let .weight(n, r): return "weight \(n): \(r)"
        case let .audio(p, r): return "\(p): \(r)"
        case let .token(id): return "token id \(id) is outside the vocabulary"
        }
    }
}
