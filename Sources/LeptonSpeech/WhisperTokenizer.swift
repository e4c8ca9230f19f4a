import Foundation

/// Whisper's byte-level BPE vocabulary (GPT-2 byte alphabet), read from `vocabulary.txt`
/// (line `i` = token `i`), and the special-token ids of the English-only model.
///
/// Only decoding is needed for transcription: ids → UTF-8 text. Each token string is written in
/// GPT-2's printable byte alphabet (`Ġ` = space, `Ċ` = newline …); it maps back to raw bytes,
/// and the bytes of a whole sequence are decoded as UTF-8 (invalid sequences become U+FFFD, as
/// the `tokenizers` library does), so characters split across tokens come out whole.
public struct WhisperTokenizer: Sendable {
    /// Raw bytes of each token (special tokens keep their `<|…|>` text).
    private let tokenBytes: [[UInt8]]
    /// Token strings as in the file.
    public let tokens: [String]

    public var count: Int { tokens.count }

    // Special ids of the English-only vocabulary (51,864 tokens).
    public let endOfText = 50256
    public let startOfTranscript = 50257
    public let startOfPrevious = 50360
    public let noSpeech = 50361
    public let noTimestamps = 50362
    public let timestampBegin = 50363
    public var timestampEnd: Int { tokens.count - 1 }

    /// Reads `vocabulary.txt`.
    public init(vocabulary url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SpeechError.model(path: url.path, reason: "cannot read vocabulary: \(error.localizedDescription)")
        }
        var lines = data.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { throw SpeechError.model(path: url.path, reason: "empty vocabulary") }
        var byteOf: [Unicode.Scalar: UInt8] = [:]
        for (b, u) in Self.byteAlphabet.enumerated() { byteOf[u] = UInt8(b) }
        var strings: [String] = []
        var bytes: [[UInt8]] = []
        strings.reserveCapacity(lines.count)
        bytes.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            guard let s = String(validating: line, as: UTF8.self) else {
                throw SpeechError.model(path: url.path, reason: "line \(i + 1) is not UTF-8")
            }
            strings.append(s)
            if s.hasPrefix("<|"), s.hasSuffix("|>") {
                bytes.append(Array(s.utf8))
            } else {
                var out: [UInt8] = []
                for u in s.unicodeScalars {
                    guard let b = byteOf[u] else {
                        throw SpeechError.model(path: url.path, reason: "line \(i + 1): character U+\(String(u.value, radix: 16)) outside the byte alphabet")
                    }
                    out.append(b)
                }
                bytes.append(out)
            }
        }
        tokens = strings
        tokenBytes = bytes
    }

    /// GPT-2's `bytes_to_unicode`: byte `b` is written as `byteAlphabet[b]`. Printable Latin-1
    /// bytes stand for themselves; the other 68 bytes are moved to U+0100 onwards, in order.
    static let byteAlphabet: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable { table[b] = Unicode.Scalar(UInt32(b))! } else { table[b] = Unicode.Scalar(shifted)!; shifted += 1 }
        }
        return table
    }()

    /// Text of the text tokens in `ids` (ids ≥ `<|endoftext|>` — specials, timestamps — are skipped).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < endOfText && id < tokenBytes.count { bytes += tokenBytes[id] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `id` is a timestamp token (`<|0.00|>` … `<|30.00|>`).
    public func isTimestamp(_ id: Int) -> Bool { id >= timestampBegin }
}
