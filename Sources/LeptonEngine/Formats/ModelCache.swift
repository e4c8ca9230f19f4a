import Foundation

/// Where `scripts/bootstrap.sh` unpacks pretrained weights, so programs find them with no flag.
///
/// Order: `$LEPTON_MODELS`, then `$LEPTON_CACHE/models`, then `~/.cache/lepton/models`.
/// The engine knows only the root; each module that uses a pretrained model names its folder in an
/// extension (`ModelCache.whisperTinyEn` in LeptonSpeech, `ModelCache.miniLM` in LeptonChat).
public enum ModelCache {
    public static var root: URL {
        let env = ProcessInfo.processInfo.environment
        if let m = env["LEPTON_MODELS"], !m.isEmpty { return URL(fileURLWithPath: m) }
        if let c = env["LEPTON_CACHE"], !c.isEmpty { return URL(fileURLWithPath: c).appendingPathComponent("models") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton/models")
    }
}
