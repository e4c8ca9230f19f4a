import Foundation
import LeptonDialog
import LeptonSpeech
import LeptonText

/// `asr-corpus.txt` in an intent model folder: the sentences the model was trained from, one per
/// line, from which an agent's speech recognizer counts its domain language model
/// (``WhisperLanguageModel``, fused into beam search at the domain's `asr_language_model_weight`).
///
/// Plain text rather than counts: it can be read and reviewed, and it does not tie the intent
/// model to one recognizer's tokenizer. Counting the shipped agent's 10,308 sentences takes
/// about half a second, once per process.
public enum RecognizerCorpus {
    public static let fileName = "asr-corpus.txt"
    /// Larger files are refused as corrupt or foreign (the shipped corpus is 0.6 MB).
    public static let maxBytes = 32 << 20

    /// Writes `texts` into `folder` atomically, deduplicated in order, line breaks turned into
    /// spaces, empty ones dropped; with no texts, removes a stale corpus instead.
    public static func write(_ texts: [String], to folder: URL) throws {
        let url = folder.appendingPathComponent(fileName)
        var seen = Set<String>(), lines: [String] = []
        for t in texts {
            let line = t.components(separatedBy: .newlines).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            if !line.isEmpty && seen.insert(line).inserted { lines.append(line) }
        }
        guard !lines.isEmpty else {
            try? FileManager.default.removeItem(at: url)
            return
        }
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw IntentError.cannotWrite(path: folder.path, reason: error.localizedDescription)
        }
        try IntentModel.writeAtomically(Data((lines.joined(separator: "\n") + "\n").utf8), to: url)
    }

    /// The sentences of `folder`'s corpus, or nil when it has none.
    /// - Throws: ``ChatError/badTrainingData(file:reason:)`` for an unreadable, oversized or
    ///   non-UTF-8 file.
    public static func read(folder: URL) throws -> [String]? {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try read(file: url)
    }

    /// The non-empty lines of a corpus file.
    /// - Throws: ``ChatError/badTrainingData(file:reason:)`` for a missing, unreadable,
    ///   oversized or non-UTF-8 file.
    public static func read(file url: URL) throws -> [String] {
        func bad(_ reason: String) -> ChatError { .badTrainingData(file: url.path, reason: reason) }
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
        guard let size else { throw bad("no such sentence file") }
        guard size <= maxBytes else { throw bad("larger than \(maxBytes >> 20) MiB") }
        guard let data = try? Data(contentsOf: url), let text = String(data: data, encoding: .utf8) else {
            throw bad("not readable UTF-8 text")
        }
        return text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
    }

    /// The recognizer's language model of `texts`, in `whisper`'s tokens.
    public static func languageModel(_ texts: [String], whisper: WhisperModel) throws -> WhisperLanguageModel {
        WhisperLanguageModel(texts: texts, encoder: try whisper.bpeEncoder(), endOfText: whisper.tokenizer.endOfText)
    }
}
