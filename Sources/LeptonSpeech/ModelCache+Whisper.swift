import Foundation
import LeptonEngine

extension ModelCache {
    /// Folder of the Whisper tiny.en CTranslate2 model (`model.bin`, `vocabulary.txt`, `tokenizer.json`).
    public static var whisperTinyEn: URL { root.appendingPathComponent("whisper-tiny.en") }
}
