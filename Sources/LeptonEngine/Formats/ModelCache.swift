import Foundation

/// Where `scripts/bootstrap.sh` unpacks pretrained weights, so programs find them with no flag.
///
/// Order: `$LEPTON_MODELS`, then `$LEPTON_CACHE/models`, then `~/.cache/lepton/models`.
public enum ModelCache {
    public static var root: URL {
        let env = ProcessInfo.processInfo.environment
        if let m = env["LEPTON_MODELS"], !m.isEmpty { return URL(fileURLWithPath: m) }
        if let c = env["LEPTON_CACHE"], !c.isEmpty { return URL(fileURLWithPath: c).appendingPathComponent("models") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton/models")
    }

    /// Folder of the Whisper tiny.en CTranslate2 model (`model.bin`, `vocabulary.txt`, `tokenizer.json`).
    public static var whisperTinyEn: URL { root.appendingPathComponent("whisper-tiny.en") }
    /// Folder of all-MiniLM-L6-v2 (`model.safetensors`, `vocab.txt`, `config.json`).
    public static var miniLM: URL { root.appendingPathComponent("all-MiniLM-L6-v2") }
}
