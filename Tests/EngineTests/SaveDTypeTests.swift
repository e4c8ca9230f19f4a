import Foundation
import XCTest
@testable import LeptonEngine

/// `--save-dtype`: float16/bfloat16 safetensors written by the engine, read by the reference
/// implementation (Python's `safetensors` with PyTorch, from `scripts/ml-env.sh`), and the
/// reference's files read by the engine.
final class SaveDTypeTests: XCTestCase {
    /// The pinned Python environment of `scripts/ml-env.sh`; a missing one fails the test, naming
    /// the script (these tests must not pass by skipping).
    static func referencePython() throws -> String {
        let cache = ProcessInfo.processInfo.environment["LEPTON_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton")
        let python = cache.appendingPathComponent("pyml/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ReferenceMissing(python: python)
        }
        return python
    }

    struct ReferenceMissing: Error, CustomStringConvertible {
        let python: String
        var description: String { "no reference Python at \(python): run `bash scripts/ml-env.sh` first (scripts/test.sh does)" }
    }

    /// Runs `script` with the reference Python and returns its stdout as JSON.
    static func runReference(_ script: String, _ arguments: [String]) throws -> [String: Any] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try referencePython())
        p.arguments = ["-c", script] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReferenceFailed(status: p.terminationStatus, stderr: errors)
        }
        return json
    }

    struct ReferenceFailed: Error { let status: Int32; let stderr: String }

    /// Values that exercise the rounding: ties at both precisions, subnormals, the largest finite
    /// values, signed zeros, NaN and infinities, and random normals across magnitudes.
    static func probeValues() -> [Float] {
        var v: [Float] = [0, -0.0, 1, -2, 1 + powf(2, -11), 1 + 3 * powf(2, -11), 1 + powf(2, -8), 1 + 3 * powf(2, -8),
                          65504, -65504, 65519, 6.1e-5, 5.96e-8, 3e-8, 1e-9, 1e-30, 1e30, 3.3e38, -3.3e38,
                          .nan, .infinity, -.infinity, 0.1, 1 / 3, 123.456, -7.77e-3]
        var rng = SeededGenerator(seed: 5)
        for k in 0..<200 { v.append(rng.nextNormal() * powf(10, Float(k % 9 - 4))) }
        return v
    }

    func testWrittenFloat16AndBFloat16MatchTorchRoundingBitForBit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-savedtype-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let values = Self.probeValues()
        let source = Tensor(shape: [values.count], scalars: values)
        // 3e38 is finite but beyond float16: a float16 file gets the values float16 can hold.
        let halfSafe = Tensor(shape: [values.count], scalars: values.map { abs($0) > 65519 && $0.isFinite ? 0 : $0 })
        try Safetensors.write(tensors: ["w": halfSafe, "m": Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])], saving: .float16,
                              to: dir.appendingPathComponent("f16.safetensors"))
        try Safetensors.write(tensors: ["w": source], saving: .bfloat16, to: dir.appendingPathComponent("bf16.safetensors"))
        try Safetensors.write(tensors: ["w": halfSafe], saving: .float32, to: dir.appendingPathComponent("src16.safetensors"))
        try Safetensors.write(tensors: ["w": source], saving: .float32, to: dir.appendingPathComponent("src.safetensors"))
        let script = """
        import json, sys, torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        d = sys.argv[1]
        out = {}
        for name, src, dt in [("f16", "src16", torch.float16), ("bf16", "src", torch.bfloat16)]:
            got = load_file(f"{d}/{name}.safetensors")
            ref = load_file(f"{d}/{src}.safetensors")["w"].to(dt)          # torch's round to nearest even
            w = got["w"]
            same = (w.view(torch.int16) == ref.view(torch.int16)) | (torch.isnan(w) & torch.isnan(ref))
            out[name] = {"dtype": str(w.dtype), "mismatches": int((~same).sum()), "count": w.numel(),
                         "nan": int(torch.isnan(w).sum()), "posinf": int(torch.isposinf(w).sum()), "neginf": int(torch.isneginf(w).sum())}
        out["m"] = load_file(f"{d}/f16.safetensors")["m"].float().tolist()
        print(json.dumps(out))
        """
        let r = try Self.runReference(script, [dir.path])
        for (name, dtype) in [("f16", "torch.float16"), ("bf16", "torch.bfloat16")] {
            let e = try XCTUnwrap(r[name] as? [String: Any], "\(r)")
            XCTAssertEqual(e["dtype"] as? String, dtype)
            XCTAssertEqual(e["count"] as? Int, values.count)
            XCTAssertEqual(e["mismatches"] as? Int, 0, "\(name): elements whose bits differ from torch's rounding: \(e)")
            // NaN and both infinities are kept as they are.
            XCTAssertEqual(e["nan"] as? Int, 1, name); XCTAssertEqual(e["posinf"] as? Int, 1, name); XCTAssertEqual(e["neginf"] as? Int, 1, name)
        }
        XCTAssertEqual(r["m"] as? [[Double]], [[1, 2, 3], [4, 5, 6]], "shape and order as written")
    }

    func testReadsFloat16AndBFloat16WrittenByTorch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-savedtype-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
        import json, sys, torch
        from safetensors.torch import save_file
        g = torch.Generator().manual_seed(3)
        x = torch.randn(37, 11, generator=g) * torch.logspace(-3, 3, 11)
        t = {"a.f16": x.to(torch.float16), "a.bf16": x.to(torch.bfloat16)}
        save_file(t, sys.argv[1] + "/torch.safetensors")
        print(json.dumps({k: v.float().flatten().tolist() for k, v in t.items()}))
        """
        let r = try Self.runReference(script, [dir.path])
        let store = try Safetensors.read(dir.appendingPathComponent("torch.safetensors"))
        for name in ["a.f16", "a.bf16"] {
            XCTAssertEqual(store.entry(name)?.dtype, name.hasSuffix("bf16") ? .bf16 : .f16)
            let mine = try store.take(name, shape: [37, 11]).scalars
            let theirs = try XCTUnwrap(r[name] as? [Double]).map(Float.init)
            XCTAssertEqual(mine, theirs, name)   // widening is exact
        }
        try store.finish()
    }

    func testRoundTripIsWithinEachTypesPrecision() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-savedtype-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        var rng = SeededGenerator(seed: 9)
        // Magnitudes 1e-4…1e4: inside float16's normal range, where its relative step is 2^-10.
        let values = (0..<4096).map { k in rng.nextNormal() * powf(10, Float(k % 9 - 4)) }.map { abs($0) < 1e-4 ? 1e-4 : $0 }
        let t = Tensor(shape: [64, 64], scalars: values)
        for (dtype, bound) in [(SaveDType.float32, Float(0)), (.float16, powf(2, -11)), (.bfloat16, powf(2, -8))] {
            try Safetensors.write(tensors: ["t": t], saving: dtype, to: url)
            let store = try Safetensors.read(url)
            XCTAssertEqual(store.entry("t")?.dtype, dtype.weightDType)
            let back = try store.take("t", shape: [64, 64]).scalars
            let worst = zip(values, back).map { abs($0 - $1) / abs($0) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, bound, "\(dtype): worst relative error \(worst)")
            if dtype != .float32 { XCTAssertGreaterThan(worst, bound / 4, "\(dtype) really rounds") }
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
            XCTAssertLessThan(size, 128 + 4096 * (dtype == .float32 ? 4 : 2) + 64, "\(dtype): \(size) bytes")
        }
    }

    func testValuesBeyondTheTypesRangeAreAnErrorNamingTheWeight() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-savedtype-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.safetensors")
        // 65519 rounds down to 65504 (the largest float16); 65520 rounds up to infinity.
        XCTAssertNoThrow(try WeightEntry(saving: Tensor(shape: [1], scalars: [65519]), as: .float16, name: "ok"))
        let big = Tensor(shape: [3], scalars: [1, 65520, 2])
        XCTAssertThrowsError(try Safetensors.write(tensors: ["fine": Tensor(shape: [1]), "layer.weight": big], saving: .float16, to: url)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("layer.weight") && text.contains("element 1") && text.contains("float16") && text.contains(url.path), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "nothing written")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no temporary file left")
        // bfloat16 holds 65520, but not Float32's largest value (it rounds to infinity).
        XCTAssertNoThrow(try WeightEntry(saving: big, as: .bfloat16, name: "b"))
        XCTAssertThrowsError(try WeightEntry(saving: Tensor(shape: [2], scalars: [.nan, .greatestFiniteMagnitude]), as: .bfloat16, name: "huge")) { e in
            XCTAssertEqual(e as? WeightRangeError, WeightRangeError(weight: "huge", index: 1, value: .greatestFiniteMagnitude, dtype: .bfloat16))
        }
        // NaN and infinities are stored, not refused, when saving; loading refuses them by name.
        try Safetensors.write(tensors: ["bad": Tensor(shape: [2], scalars: [1, .nan])], saving: .float16, to: url)
        XCTAssertThrowsError(try Safetensors.read(url).take("bad", shape: [2])) { XCTAssertTrue("\($0)".contains("'bad'") && "\($0)".contains("non-finite"), "\($0)") }
    }
}
