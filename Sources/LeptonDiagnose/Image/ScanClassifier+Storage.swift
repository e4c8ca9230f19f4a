import Foundation
import LeptonEngine

extension ScanClassifier {
    /// Saves `model.safetensors` (float32, checkpoint names) and `config.json` into `directory`
    /// (created if needed; each file written through a temporary file and a rename).
    public func save(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let json = try enc.encode(config)
            try ScanClassifier.atomicWrite(json, to: directory.appendingPathComponent("config.json"))
            let weights = Safetensors.encode(namedTensors().mapValues { WeightEntry($0) }, metadata: ["format": "lepton-diagnose"])
            try ScanClassifier.atomicWrite(weights, to: directory.appendingPathComponent("model.safetensors"))
            identity = try ScanClassifier.identity(config: config, files: ScanClassifier.folderFiles(directory))
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: directory.path, reason: "cannot save: \(error)")
        }
    }

    /// Loads a PyTorch-exported `.npz` state dict (e.g. ../shared/data/medical/models/pneumonia_smallcnn.npz)
    /// with the default architecture; its temperature comes from a sibling `<stem>_reference.npz` if present.
    public static func load(npz url: URL) throws -> ScanClassifier {
        let model = try ScanClassifier(config: ScanClassifierConfig(), weights: NumpyArchive.weightStore(url))
        let ref = url.deletingPathExtension().path + "_reference.npz"
        var files = [url]
        if FileManager.default.fileExists(atPath: ref), let t = try NumpyArchive.read(URL(fileURLWithPath: ref))["temperature"]?.floats.first {
            model.config.temperature = t
            files.append(URL(fileURLWithPath: ref))
        }
        model.identity = try identity(config: model.config, files: files, fallbackVersion: url.deletingPathExtension().lastPathComponent)
        return model
    }

    /// Loads a model folder written by `save(to:)` (strict: every weight must be present and used),
    /// or an `.npz` state dict.
    public static func load(from directory: URL) throws -> ScanClassifier {
        if directory.pathExtension == "npz" { return try load(npz: directory) }
        let cfgURL = directory.appendingPathComponent("config.json")
        let config: ScanClassifierConfig
        do { config = try JSONDecoder().decode(ScanClassifierConfig.self, from: Data(contentsOf: cfgURL)) } catch {
            throw DiagnoseError.badModel(path: cfgURL.path, reason: "cannot read config: \(error)")
        }
        guard config.channels.count == config.pool.count, !config.channels.isEmpty, config.classes.count >= 2,
              config.inputSize >= 4, config.temperature > 0 else {
            throw DiagnoseError.badModel(path: cfgURL.path, reason: "inconsistent configuration")
        }
        do {
            let model = try ScanClassifier(config: config, weights: Safetensors.read(directory.appendingPathComponent("model.safetensors")))
            model.identity = try identity(config: config, files: folderFiles(directory))
            return model
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: directory.path, reason: "\(error)")
        }
    }

    /// The files that define a saved model: the configuration (temperature, threshold) and the weights.
    static func folderFiles(_ directory: URL) -> [URL] {
        [directory.appendingPathComponent("config.json"), directory.appendingPathComponent("model.safetensors")]
    }

    /// Name, version (the config's, else `fallbackVersion`) and SHA-256 prefix of `files`.
    static func identity(config: ScanClassifierConfig, files: [URL], fallbackVersion: String = "unversioned") throws -> ModelIdentity {
        do { return try ModelIdentity.of(name: modelName, version: config.version ?? fallbackVersion, files: files) } catch {
            throw DiagnoseError.badModel(path: files.first?.deletingLastPathComponent().path ?? "", reason: "\(error)")
        }
    }

    static func atomicWrite(_ data: Data, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try data.write(to: tmp)
        if rename(tmp.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: tmp)
            throw DiagnoseError.badModel(path: url.path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }

    /// The model shipped in `samples/diagnose/model`, searched (in order) in `$LEPTON_DIAGNOSE_MODEL`,
    /// beside the executable and in its parent folders (so a build under `.build/release` finds the
    /// repository's `samples/`), then from the current directory upwards.
    public static func defaultModelDirectory(executable: URL? = nil) -> URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["LEPTON_DIAGNOSE_MODEL"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        var starts: [URL] = []
        if let exe = executable ?? Bundle.main.executableURL { starts.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: fm.currentDirectoryPath))
        for start in starts {
            var dir = start
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("samples/diagnose/model")
                if fm.fileExists(atPath: candidate.appendingPathComponent("config.json").path) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }
}
