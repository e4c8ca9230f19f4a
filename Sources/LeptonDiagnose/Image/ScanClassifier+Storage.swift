import Foundation
import LeptonEngine

extension ScanClassifier {
    /// Saves `model.safetensors` (checkpoint names; weights stored as `dtype`, float32 by default)
    /// and `config.json` into `directory` (created if needed; each file written through a
    /// temporary file and a rename). A weight `dtype` cannot hold is an error naming it.
    public func save(to directory: URL, dtype: SaveDType = .float32) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let json = try enc.encode(config)
            try ScanClassifier.atomicWrite(json, to: directory.appendingPathComponent("config.json"))
            let weights = Safetensors.encode(try Safetensors.entries(namedTensors(), saving: dtype), metadata: ["format": "lepton-diagnose"])
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
        if let problem = config.problem {
            throw DiagnoseError.badModel(path: cfgURL.path, reason: "inconsistent configuration: \(problem)")
        }
        do {
            let model = try ScanClassifier(config: config, weights: Safetensors.read(directory.appendingPathComponent("model.safetensors")))
            model.identity = try identity(config: config, files: folderFiles(directory))
            model.gate = try ScanGate.load(from: directory, channels: model.featureChannels, classes: model.classCount)
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

    /// The engine's atomic write (unique temporary name, rename, removed on failure), reported as a
    /// diagnose error naming the file.
    static func atomicWrite(_ data: Data, to url: URL) throws {
        do { try writeFileAtomically(data, to: url) } catch WeightFormatError.cannotWrite(_, let reason) {
            throw DiagnoseError.writeFailed(path: url.path, reason: reason)
        }
    }

    /// The model a command's `--model` names (a folder or an `.npz`), or without one the shipped
    /// model (``defaultModelDirectory(executable:)``); an error names what is missing.
    public static func load(modelOrShipped path: String?) throws -> ScanClassifier {
        if let path { return try load(from: URL(fileURLWithPath: path)) }
        guard let dir = defaultModelDirectory() else {
            throw DiagnoseError.badModel(path: "samples/diagnose/model", reason: "no --model given and the shipped model was not found (set LEPTON_DIAGNOSE_MODEL)")
        }
        return try load(from: dir)
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

extension ScanClassifierConfig {
    /// What makes this configuration unusable, or nil. A model folder is a user's file: every
    /// size is bounded before layers are allocated from it (a negative channel count once
    /// overflowed a buffer; found by lepton-fuzz scan-model) and every number must be finite.
    var problem: String? {
        if channels.isEmpty || channels.count > 32 { return "channels must list 1 to 32 layers, has \(channels.count)" }
        if channels.count != pool.count { return "channels (\(channels.count)) and pool (\(pool.count)) differ in length" }
        if let b = residualBlocks, !(1...8).contains(b) { return "residualBlocks \(b) is outside 1...8" }
        if let k = tta, !(0...4).contains(k) { return "tta \(k) is outside 0...4 pixels" }
        if let c = channels.first(where: { !(1...4096).contains($0) }) { return "channel count \(c) is outside 1...4096" }
        if !(2...1000).contains(classes.count) { return "classes must list 2 to 1000 names, has \(classes.count)" }
        if !(4...4096).contains(inputSize) { return "inputSize \(inputSize) is outside 4...4096" }
        if !(temperature.isFinite && temperature > 0) { return "temperature \(temperature) is not a positive number" }
        if !(bnEps.isFinite && bnEps > 0) { return "bnEps \(bnEps) is not a positive number" }
        if !(std.isFinite && std > 0) || !mean.isFinite { return "mean \(mean) / std \(std) are not finite with std > 0" }
        if !(threshold.isFinite && (0...1).contains(threshold)) { return "threshold \(threshold) is outside 0...1" }
        return nil
    }
}
