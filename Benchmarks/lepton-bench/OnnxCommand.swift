import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonONNX

/// `lepton-bench onnx`: one ONNX model's forward passes on the engine, timed like the peers
/// (scripts/bench-onnx.sh runs ONNX Runtime on the same file and inputs side by side).
struct OnnxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "ONNX model inference timing (compare with ONNX Runtime: scripts/bench-onnx.sh).",
        discussion: """
        Either one float input of a given shape (values N(0, 1), seed 1), timed per call, or the
        inputs of an .npz written by scripts/bench-onnx.sh (for call K = 0, 1, ... an array
        NAME_K per model input NAME: float32 or int64), timed per pass over all calls. Prints one
        JSON line; its checksum (the sum over calls of each output's mean) is the peer's when the
        inputs are the same.

        Examples (the models come from scripts/make-onnx-fixtures.py):
          lepton-bench onnx --model ~/.cache/lepton/fixtures/onnx/resnet18.onnx --shape 1,3,224,224 --threads 2
          lepton-bench onnx --model ~/.cache/lepton/fixtures/onnx/minilm.onnx --inputs /tmp/banking77-ids.npz --threads 2
        """)

    @Option(name: .long, help: "The .onnx file.")
    var model: String

    @Option(name: .long, help: "Shape of the model's one float input, comma-separated (e.g. 1,3,224,224).")
    var shape: String?

    @Option(name: .long, help: "An .npz of inputs: NAME_K for each model input NAME and call K = 0, 1, ...")
    var inputs: String?

    @Option(name: .long, help: "Timed repeats (median and best reported).")
    var repeats: Int = 5

    @OptionGroup var common: CommonOptions

    struct Result: Codable {
        var bench = "onnx"
        var engine = "lepton"
        var model: String
        var threads: Int
        var calls: Int
        var load_s: Double
        var median_ms: Double
        var best_ms: Double
        var cpu_ms: Double
        var checksum: Double
    }

    func validate() throws {
        guard (shape == nil) != (inputs == nil) else { throw ValidationError("give exactly one of --shape and --inputs") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        try runCommand("lepton-bench", common) {
            EngineThreads.set(common.threads)
            let t0 = BenchTiming.wallSeconds()
            let onnx = try ONNXModel(contentsOf: URL(fileURLWithPath: (model as NSString).expandingTildeInPath))
            var feeds: [[String: ONNXValue]] = []
            if let shape {
                let dims = shape.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard onnx.inputs.count == 1, !dims.isEmpty, dims.allSatisfy({ $0 > 0 }) else {
                    throw CLIFailure.usage("--shape needs a model with one input and positive extents")
                }
                var rng = SeededGenerator(seed: 1)
                let count = dims.reduce(1, *)
                feeds = [[onnx.inputs[0].name: .float(Tensor(shape: dims, scalars: (0..<count).map { _ in Float(rng.nextNormal()) }))]]
            } else if let inputs {
                let arrays = try NumpyArchive.read(URL(fileURLWithPath: inputs))
                var k = 0
                while onnx.inputs.allSatisfy({ arrays["\($0.name)_\(k)"] != nil }) {
                    var feed: [String: ONNXValue] = [:]
                    for info in onnx.inputs {
                        let a = arrays["\(info.name)_\(k)"]!
                        feed[info.name] = a.floats.isEmpty ? .int64(IntTensor(shape: a.shape, values: a.integers)) : .float(a.tensor)
                    }
                    feeds.append(feed)
                    k += 1
                }
                guard !feeds.isEmpty else { throw CLIFailure.input("\(inputs): no arrays \(onnx.inputs.map { "\($0.name)_0" })") }
            }
            // Plans are built (and cached) before timing, as ONNX Runtime builds its session first.
            for f in feeds { _ = try onnx.plan(inputShapes: f.mapValues(\.shape)) }
            let load = BenchTiming.wallSeconds() - t0
            var checksum = 0.0
            for f in feeds {
                for (_, v) in try onnx.run(f) { if let t = v.floatTensor { checksum += Double(t.sum()) / Double(max(t.count, 1)) } }
            }
            let timing = BenchTiming.measure(repeats: repeats, minTime: 0.5) {
                for f in feeds { blackHole(try? onnx.run(f)) }
            }
            let r = Result(model: URL(fileURLWithPath: model).lastPathComponent, threads: common.threads, calls: feeds.count, load_s: load,
                           median_ms: timing.medianMs, best_ms: timing.bestMs, cpu_ms: timing.cpuMsPerCall, checksum: checksum)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            emitLine(String(decoding: try enc.encode(r), as: UTF8.self))
        }
    }
}
