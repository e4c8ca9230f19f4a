import Foundation
import LeptonEngine

extension ModelCache {
    /// Folder of all-MiniLM-L6-v2 (`model.safetensors`, `vocab.txt`, `config.json`).
    public static var miniLM: URL { root.appendingPathComponent("all-MiniLM-L6-v2") }
}
