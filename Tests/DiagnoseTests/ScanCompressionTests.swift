import Foundation
import XCTest
import LeptonDiagnose
import LeptonEngine

/// Compression of the scan classifier: the shipped model saved as float16/bfloat16, and
/// `train --distil-from` / `--save-dtype` as a user runs them.
final class ScanCompressionTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-compress-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The dtype of every tensor of a safetensors file, read from its header here (u64 length,
    /// JSON), independently of the engine's reader.
    static func headerDTypes(_ url: URL) throws -> [String: String] {
        let bytes = [UInt8](try Data(contentsOf: url))
        let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        return header.compactMapValues { ($0 as? [String: Any])?["dtype"] as? String }
    }

    /// The shipped model saved in float16 (bfloat16) and loaded again gives the float32 model's
    /// positive-class probability on all 524 validation scans within 1e-2 (0.1), changing at most
    /// 1 (8) of the 524 decisions at 0.5: the stated tolerance of each type (measured 2026-12-07:
    /// float16 4.9e-3 and no decision changed; bfloat16 0.050 and 4 decisions, its 8-bit mantissa
    /// shows); the weights file is half the size.
    func testHalfPrecisionModelMatchesTheFloat32Model() throws {
        let reference = try ScanClassifier.load(from: DiagnoseFixtures.samples.appendingPathComponent("model"))
        let (_, val) = try LabeledImages.read(labels: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), size: 28)
        XCTAssertEqual(val.count, 524)
        let p32 = reference.positiveProbabilities(val)
        let size32 = try FileManager.default.attributesOfItem(atPath: DiagnoseFixtures.samples.appendingPathComponent("model/model.safetensors").path)[.size] as! Int
        for (dtype, tolerance, maxFlips, code) in [(SaveDType.float16, Float(1e-2), 1, "F16"), (.bfloat16, Float(0.1), 8, "BF16")] {
            let out = dir.appendingPathComponent(dtype.rawValue)
            try reference.save(to: out, dtype: dtype)
            let weights = out.appendingPathComponent("model.safetensors")
            XCTAssertEqual(Set(try Self.headerDTypes(weights).values), [code])
            let size = try FileManager.default.attributesOfItem(atPath: weights.path)[.size] as! Int
            XCTAssertLessThan(Double(size), 0.56 * Double(size32), "\(dtype): \(size) vs \(size32) bytes")
            let loaded = try ScanClassifier.load(from: out)
            let p = loaded.positiveProbabilities(val)
            let worst = zip(p32, p).map { abs($0 - $1) }.max() ?? 0
            print("\(dtype): max |Δp| \(worst) over \(val.count) scans, \(size) bytes (float32 \(size32))")
            XCTAssertLessThanOrEqual(worst, tolerance, "\(dtype)")
            XCTAssertGreaterThan(worst, 0, "\(dtype): the weights were rounded")
            let flips = zip(p32, p).filter { ($0 >= 0.5) != ($1 >= 0.5) }.count
            XCTAssertLessThanOrEqual(flips, maxFlips, "\(dtype): decisions changed")
        }
    }

    /// Removing channels equals masking them: the pruned model's logits match the full model's
    /// with the removed channels' batch-norm scale and shift set to 0 (their ReLU output is then 0,
    /// which no later layer can tell from a missing channel). At sparsity 0 nothing changes.
    func testChannelPruningEqualsMaskingTheRemovedChannels() throws {
        let full = try ScanClassifier.load(from: DiagnoseFixtures.samples.appendingPathComponent("model"))
        let (_, val) = try LabeledImages.read(labels: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), size: 28)
        let x = full.normalise(Array(val.pixels[0..<(64 * 784)]))
        let same = try full.channelPruned(sparsity: 0)
        XCTAssertEqual(same.config.channels, full.config.channels)
        XCTAssertEqual(same.logits(x, n: 64), full.logits(x, n: 64))
        for sparsity in [0.3, 0.5, 0.9] {
            let pruned = try full.channelPruned(sparsity: sparsity)
            XCTAssertEqual(pruned.config.channels, full.config.channels.map { ScanClassifier.keptChannels($0, sparsity: sparsity) })
            XCTAssertLessThan(pruned.parameterCount, full.parameterCount)
            // The mask: per block, the channels whose |γ| is not among the kept ones, chosen here from the weights.
            var state = full.namedTensors()
            for i in 1...full.config.channels.count {
                let gamma = state["b\(i).weight"]!.scalars
                let keep = ScanClassifier.keptChannels(gamma.count, sparsity: sparsity)
                let threshold = gamma.map(abs).sorted(by: >)[keep - 1]
                var g = gamma, b = state["b\(i).bias"]!.scalars
                var removed = 0
                for c in gamma.indices where abs(gamma[c]) < threshold { g[c] = 0; b[c] = 0; removed += 1 }
                XCTAssertEqual(removed, gamma.count - keep, "no ties in the shipped weights")
                state["b\(i).weight"] = Tensor(shape: [g.count], scalars: g); state["b\(i).bias"] = Tensor(shape: [b.count], scalars: b)
            }
            let masked = try ScanClassifier(config: full.config, weights: WeightStore(source: "masked", entries: state.mapValues { WeightEntry($0) }))
            let a = pruned.logits(x, n: 64), b = masked.logits(x, n: 64)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "sparsity \(sparsity)")
            XCTAssertGreaterThan(zip(a, full.logits(x, n: 64)).map { abs($0 - $1) }.max() ?? 0, 1e-3, "pruning changed something")
        }
        XCTAssertThrowsError(try full.channelPruned(sparsity: 1))
    }

    /// A tiny labelled set: the first `trainCount` training and `valCount` validation rows of
    /// PneumoniaMNIST, copied under `dir`.
    static func tinyLabels(in dir: URL, trainCount: Int = 48, valCount: Int = 24) throws -> URL {
        let rows = try String(contentsOf: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).dropFirst()
        let picked = Array(rows.filter { $0.hasPrefix("train/") }.prefix(trainCount)) + Array(rows.filter { $0.hasPrefix("val/") }.prefix(valCount))
        for sub in ["train", "val"] { try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true) }
        for row in picked {
            let file = String(row.split(separator: ",")[0])
            try FileManager.default.copyItem(at: DiagnoseFixtures.pneumonia.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        let labels = dir.appendingPathComponent("labels.csv")
        try (["file,label"] + picked.map(String.init)).joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        return labels
    }
}

extension DiagnoseProgramTests {
    /// `train --distil-from TEACHER --save-dtype float16`: a student half as wide as the teacher,
    /// saved in float16, whose notes name the teacher, and which `analyze` loads; bad settings are
    /// usage errors (64) on one line.
    func testDistilledStudentInFloat16() throws {
        let labels = try ScanCompressionTests.tinyLabels(in: dir)
        let out = dir.appendingPathComponent("student")
        let teacher = DiagnoseFixtures.samples.appendingPathComponent("model")
        let r = try run(["train", "--labels", labels.path, "--out", out.path, "--epochs", "1", "--batch", "16", "--seed", "1",
                         "--distil-from", teacher.path, "--distil-temperature", "3", "--distil-alpha", "0.8", "--save-dtype", "float16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["channels"] as? [Int], [8, 16, 32], "half the teacher's 16,32,64")
        let notes = try XCTUnwrap(config["notes"] as? [String: String])
        XCTAssertTrue(notes["distilled_from"]?.hasPrefix(teacher.path) == true, "\(notes)")
        XCTAssertEqual(notes["distil_temperature"], "3.0"); XCTAssertEqual(notes["distil_alpha"], "0.8")
        XCTAssertEqual(Set(try ScanCompressionTests.headerDTypes(out.appendingPathComponent("model.safetensors")).values), ["F16"])
        let a = try run(["analyze", "--model", out.path, "--json", DiagnoseFixtures.samples.appendingPathComponent("studies/case1.png").path])
        XCTAssertEqual(a.status, 0, a.stderr)

        for (args, fragment) in [(["--distil-alpha", "1.5"], "--distil-alpha"), (["--distil-temperature", "0.5"], "--distil-temperature"),
                                 (["--classes", "a,b,c"], "classes"), (["--save-dtype", "float8"], "float8")] {
            let bad = try run(["train", "--labels", labels.path, "--out", dir.appendingPathComponent("bad").path, "--epochs", "1",
                               "--distil-from", teacher.path] + args)
            XCTAssertEqual(bad.status, 64, "\(args): \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains(fragment), "\(args): \(bad.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path), "\(args)")
        }
    }
}

extension DiagnoseProgramTests {
    /// `prune`: a narrower model on disk (its config and weight shapes), fine-tuned when asked,
    /// loaded by `analyze`; a sparsity of 1 is a usage error.
    func testPruneWritesANarrowerModel() throws {
        let labels = try ScanCompressionTests.tinyLabels(in: dir)
        let out = dir.appendingPathComponent("pruned")
        let r = try run(["prune", "--sparsity", "0.5", "--labels", labels.path, "--epochs", "1", "--batch", "16", "--out", out.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(o["channels"] as? [Int], [8, 16, 32])
        XCTAssertEqual(o["epochs_run"] as? Int, 1)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["channels"] as? [Int], [8, 16, 32])
        // Shapes from the file's own header: c2 reads the 8 kept channels of c1 and keeps 16.
        let bytes = [UInt8](try Data(contentsOf: out.appendingPathComponent("model.safetensors")))
        let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: [String: Any]])
        XCTAssertEqual(header["c2.weight"]?["shape"] as? [Int], [16, 8, 3, 3])
        XCTAssertEqual(header["fc.weight"]?["shape"] as? [Int], [2, 32])
        let a = try run(["analyze", "--model", out.path, "--json", DiagnoseFixtures.samples.appendingPathComponent("studies/case1.png").path])
        XCTAssertEqual(a.status, 0, a.stderr)
        let bad = try run(["prune", "--sparsity", "1", "--epochs", "0", "--out", dir.appendingPathComponent("bad").path])
        assertOneLineError(bad, status: 64, contains: "--sparsity")
    }
}
