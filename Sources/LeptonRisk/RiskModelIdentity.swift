import Foundation
import LeptonEngine

extension ModelIdentity {
    /// The identity of a lepton-risk model folder (any kind): `lepton-risk-<kind>`, the config's
    /// format version, and the hash of `model.safetensors` then `config.json` (the threshold and
    /// the blend weights live in the config, so they are part of what made a score).
    public static func ofRiskModel(at dir: URL) throws -> ModelIdentity {
        let cfg = dir.appendingPathComponent(TransactionModel.configFile)
        let kind = try NodeModel.kind(of: dir)
        var version = "1"
        if let data = try? Data(contentsOf: cfg), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let v = obj["formatVersion"] as? Int { version = String(v) }
        do {
            return try ModelIdentity.of(name: "lepton-risk-\(kind)", version: version,
                                        files: [dir.appendingPathComponent(TransactionModel.weightsFile), cfg])
        } catch { throw RiskError.badModel(path: dir.path, reason: "\(error)") }
    }
}
