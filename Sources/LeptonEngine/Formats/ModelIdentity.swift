import Crypto
import Foundation

/// What made an output, for audit: the model's name, its version and a short hash of its weight
/// files, so a result can be traced to the exact weights that produced it.
///
/// Outputs carry it as `"model": {"name": …, "version": …, "sha256": …}` in JSON.
public struct ModelIdentity: Codable, Sendable, Equatable, CustomStringConvertible {
    /// What the model is (`whisper-tiny.en`, `lepton-scan-cnn`, `lepton-risk-gbt` …).
    public var name: String
    /// The model's own version (a config field, a training date) or the program's version.
    public var version: String
    /// The first 12 hex digits of SHA-256 over the weight files' bytes, in the order given
    /// (enough to tell two models apart; the whole digest is one `sha256sum` away).
    public var sha256: String

    public init(name: String, version: String, sha256: String) {
        self.name = name; self.version = version; self.sha256 = sha256
    }

    /// The identity of the model whose weights are `files`. Files are hashed in the order given,
    /// each streamed in 1 MiB pieces (a 150 MB checkpoint never sits in memory twice).
    public static func of(name: String, version: String, files: [URL]) throws -> ModelIdentity {
        var hasher = SHA256()
        for url in files {
            guard let handle = FileHandle(forReadingAtPath: url.path) else {
                throw WeightFormatError.cannotRead(file: url.path, reason: "cannot open it to hash the model")
            }
            defer { try? handle.close() }
            while true {
                let chunk: Data
                do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() }
                catch { throw WeightFormatError.cannotRead(file: url.path, reason: (error as NSError).localizedDescription) }
                if chunk.isEmpty { break }
                hasher.update(data: chunk)
            }
        }
        return ModelIdentity(name: name, version: version, sha256: String(hexDigest(hasher.finalize()).prefix(12)))
    }

    /// `name version (sha256 …)`, for text output and logs.
    public var description: String { "\(name) \(version) (sha256 \(sha256))" }
}

/// Lower-case hex of a digest's bytes.
public func hexDigest<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8](); out.reserveCapacity(64)
    for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
