// FuzzTargets.swift: one fuzz target per decoder or loader that a user's file reaches.
//
// Each target feeds the bytes through the same entry point the programs use (ScanLoader for
// scans, ReportReader + FindingExtractor for reports, ScoredTransactions for `lepton-risk score`,
// NLUData/Domain for the chat YAML, the weight-format parsers, the model-folder loaders).
// Thrown errors are the expected outcome for bad input and are ignored; a trap, an ASan report,
// a libFuzzer timeout (-timeout) or an RSS overrun (-rss_limit_mb) is a finding.

import Foundation
import LeptonAudio
import LeptonDialog
import LeptonDiagnose
import LeptonEngine
import LeptonImage
import LeptonONNX
import LeptonReport
import LeptonRisk

struct FuzzTarget: Sendable {
    let name: String
    /// What the target reaches, for `--list`.
    let summary: String
    /// Largest input worth mutating (libFuzzer `-max_len`).
    let maxLength: Int
    let run: @Sendable (UnsafeBufferPointer<UInt8>) -> Void
}

/// The repository root, found from this file's location (the fuzzer is built in place).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Loaded once per process: scoring needs a trained model; loading it per input would hide the
/// CSV path behind the safetensors parse.
nonisolated(unsafe) let sampleRiskModel: TransactionModel = {
    do { return try TransactionModel.load(from: repositoryRoot.appendingPathComponent("samples/risk/model")) } catch {
        fatalError("lepton-fuzz: cannot load samples/risk/model: \(error)")
    }
}()

/// Built once: its lexicon and patterns are fixed; rebuilding them per input only slows the fuzzer.
nonisolated(unsafe) let findingExtractor = FindingExtractor()

let fuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "audio", summary: "AudioStream (libsndfile + resampler to 16 kHz), as `transcribe` reads audio",
               maxLength: 64 << 10) { bytes in
        let url = ScratchFile.write(bytes, name: "input.wav")
        guard let stream = try? AudioStream(url: url, sampleRate: 16_000) else { return }
        while let block = try? stream.read(maxFrames: 16_000), !block.isEmpty {}
    },
    FuzzTarget(name: "png", summary: "ScanLoader on a PNG (libpng via CPNGShim, normalise, grayscale, resize)",
               maxLength: 16 << 10) { bytes in
        _ = try? ScanLoader.load(ScratchFile.write(bytes, name: "scan.png"), size: 28)
    },
    FuzzTarget(name: "dicom", summary: "ScanLoader on DICOM (data set, pixel data, rendering, resize)",
               maxLength: 16 << 10) { bytes in
        _ = try? ScanLoader.load(ScratchFile.write(bytes, name: "scan.dcm"), size: 28)
    },
    FuzzTarget(name: "report", summary: "ReportReader (XML via libxml2 or plain text) and FindingExtractor",
               maxLength: 4 << 10) { bytes in
        guard let report = try? ReportReader().read(data: Data(buffer: bytes), name: "report.xml") else { return }
        _ = findingExtractor.analyze(report.text)
    },
    // Without a history file (`--history`): the model folder carries none, and merging one makes
    // every input cost thousands of rows of features (50x fewer executions).
    FuzzTarget(name: "csv", summary: "ScoredTransactions: CSV ingest, features, trees, propagation, GNN (samples/risk/model)",
               maxLength: 4 << 10) { bytes in
        let url = ScratchFile.write(bytes, name: "transactions.csv")
        _ = try? ScoredTransactions(model: sampleRiskModel, path: url.path)
    },
    FuzzTarget(name: "nlu", summary: "NLUData.load on a .yml (Rasa NLU data or a recipe)", maxLength: 4 << 10) { bytes in
        _ = try? NLUData.load(ScratchFile.write(bytes, name: "nlu.yml"))
    },
    FuzzTarget(name: "domain", summary: "Domain.parse (dialogue domain YAML)", maxLength: 8 << 10) { bytes in
        guard let text = String(bytes: bytes, encoding: .utf8) else { return }
        _ = try? Domain.parse(text, file: "domain.yml")
    },
    FuzzTarget(name: "safetensors", summary: "Safetensors.parse and WeightStore.take of every weight", maxLength: 16 << 10) { bytes in
        guard let store = try? Safetensors.parse(Data(buffer: bytes), source: "fuzz.safetensors") else { return }
        for name in store.names { _ = try? store.take(name) }
    },
    FuzzTarget(name: "ctranslate2", summary: "CTranslate2File header parse and reading every variable", maxLength: 16 << 10) { bytes in
        guard let file = try? CTranslate2File(contentsOf: ScratchFile.write(bytes, name: "model.bin")) else { return }
        for v in file.variables { _ = try? file.floats(v.name, expectedShape: v.shape) }
    },
    FuzzTarget(name: "npz", summary: "NumpyArchive.read (ZIP of .npy, stored or deflated)", maxLength: 16 << 10) { bytes in
        _ = try? NumpyArchive.read(ScratchFile.write(bytes, name: "model.npz"))
    },
    FuzzTarget(name: "onnx", summary: "ONNXModel (protobuf, graph order, limits) and its plan for the declared input shapes",
               maxLength: 16 << 10) { bytes in
        guard let model = try? ONNXModel(data: Data(buffer: bytes), file: "fuzz.onnx") else { return }
        // Unknown dims as 1, and every dim capped, so the plan (shape inference, constant folding)
        // is reached without asking for a huge input on purpose.
        var shapes: [String: [Int]] = [:]
        for input in model.inputs { shapes[input.name] = input.dims.map { min(max($0 ?? 1, 1), 64) } }
        _ = try? model.plan(inputShapes: shapes)
    },
    FuzzTarget(name: "scan-model", summary: "ScanClassifier.load with a fuzzed config.json (samples/diagnose/model weights)",
               maxLength: 4 << 10) { bytes in
        let dir = ScratchFile.modelFolder("scan-model", copying: ["model.safetensors"],
                                          from: repositoryRoot.appendingPathComponent("samples/diagnose/model"))
        _ = ScratchFile.write(bytes, name: "scan-model/config.json")
        _ = try? ScanClassifier.load(from: dir)
    },
    FuzzTarget(name: "risk-model", summary: "TransactionModel.load with a fuzzed config.json (samples/risk/model weights)",
               maxLength: 8 << 10) { bytes in
        let source = repositoryRoot.appendingPathComponent("samples/risk/model")
        let files = ["model.safetensors", "history.csv"].filter {
            FileManager.default.fileExists(atPath: source.appendingPathComponent($0).path)
        }
        let dir = ScratchFile.modelFolder("risk-model", copying: files, from: source)
        _ = ScratchFile.write(bytes, name: "risk-model/config.json")
        _ = try? TransactionModel.load(from: dir)
    },
    FuzzTarget(name: "node-model", summary: "NodeModel.load with a fuzzed config.json (a small edge model trained once)",
               maxLength: 8 << 10) { bytes in
        let dir = scratchNodeModel
        _ = ScratchFile.write(bytes, name: "node-model/config.json")
        _ = try? NodeModel.load(from: dir)
    },
]

/// A labelled-edge model that keeps the known-label columns (and so its fallback trees), trained
/// once per process on a small graph where spam belongs to users; its folder's config is then
/// overwritten by each input.
nonisolated(unsafe) let scratchNodeModel: URL = {
    var edges = "id,user,product,x\n", labels = "id,label\n"
    for r in 0..<400 {
        let user = r % 120, spam = user % 4 == 0
        edges += "r\(r),u\(user),p\(r % 13),\(Double(r % 7) / 7 + (spam ? 0.2 : 0))\n"
        labels += "r\(r),\(spam ? 1 : 0)\n"
    }
    let e = ScratchFile.write(Data(edges.utf8), name: "node-model-edges.csv")
    let l = ScratchFile.write(Data(labels.utf8), name: "node-model-labels.csv")
    do {
        var o = NodeModel.TrainOptions(); o.trees.rounds = 20; o.gnnEpochs = 0
        let (m, _) = try NodeModel.train(try NodeGraph.load(nodes: nil, edges: e.path, labels: l.path), source: "fuzz", options: o)
        let dir = ScratchFile.directory.appendingPathComponent("node-model")
        try m.save(to: dir)
        return dir
    } catch {
        fatalError("lepton-fuzz: cannot train the scratch node model: \(error)")
    }
}()
