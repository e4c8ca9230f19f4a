import Foundation
import XCTest
@testable import LeptonEngine

/// Paths shared by the engine tests: the repo root, ../shared and the fixtures folder.
enum EngineFixtures {
    static let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
    static let repoRoot = here.deletingLastPathComponent().deletingLastPathComponent()
    static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let fixtures = here.appendingPathComponent("Fixtures")

    static func fixtureJSON(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name)))
    }
}

final class FormatsTests: XCTestCase {
    // MARK: Half precision

    /// Independent decoding of an IEEE binary16 bit pattern (sign, exponent, mantissa).
    private func decodeHalf(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let e = Int((bits >> 10) & 0x1F), m = Float(bits & 0x3FF)
        if e == 0 { return sign * m * powf(2, -24) }
        if e == 31 { return m == 0 ? sign * .infinity : .nan }
        return sign * (1 + m / 1024) * powf(2, Float(e - 15))
    }

    func testFloat16ConversionMatchesBitLevelDecodingForEveryPattern() {
        var bits = [UInt16](0...UInt16.max)
        // Odd byte offset forces the unaligned (copying) path; offset 0 the aligned one.
        for offset in [0, 1] {
            var bytes = [UInt8](repeating: 0, count: bits.count * 2 + 1)
            bits.withUnsafeBytes { src in
                bytes.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!, byteCount: src.count) }
            }
            var out = [Float](repeating: 0, count: bits.count)
            bytes.withUnsafeBytes { raw in
                out.withUnsafeMutableBufferPointer { HalfPrecision.float16ToFloat(raw.baseAddress! + offset, count: bits.count, into: $0.baseAddress!) }
            }
            for (i, b) in bits.enumerated() {
                let want = decodeHalf(b)
                if want.isNaN { XCTAssertTrue(out[i].isNaN, "pattern \(b)") } else { XCTAssertEqual(out[i], want, "pattern \(b), offset \(offset)") }
            }
        }
        bits.removeAll()
    }

    func testHandPickedHalfAndBFloat16Values() {
        // binary16: 0x3C00 = 1, 0xC000 = -2, 0x7BFF = 65504 (max), 0x0001 = 2^-24, 0x3555 = 0.333251953125.
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555]
        var out = [Float](repeating: 0, count: 5)
        half.withUnsafeBytes { r in out.withUnsafeMutableBufferPointer { HalfPrecision.float16ToFloat(r.baseAddress!, count: 5, into: $0.baseAddress!) } }
        XCTAssertEqual(out, [1, -2, 65504, powf(2, -24), 0.333251953125])
        // bfloat16: 0x3F80 = 1, 0x4049 = 3.140625, 0xC2F7 = -123.5
        let bf: [UInt16] = [0x3F80, 0x4049, 0xC2F7]
        var out2 = [Float](repeating: 0, count: 3)
        bf.withUnsafeBytes { r in out2.withUnsafeMutableBufferPointer { HalfPrecision.bfloat16ToFloat(r.baseAddress! + 0, count: 3, into: $0.baseAddress!) } }
        XCTAssertEqual(out2, [1, 3.140625, -123.5])
        // Round to nearest even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 in binary16 -> 1.
        XCTAssertEqual(HalfPrecision.bfloat16Bits(1 + powf(2, -8)), 0x3F80)          // tie -> even (1.0)
        XCTAssertEqual(HalfPrecision.bfloat16Bits(1 + 3 * powf(2, -8)), 0x3F82)      // tie -> even (1 + 2^-6)
        XCTAssertEqual(HalfPrecision.bfloat16Bits(-123.5), 0xC2F7)
        let e = WeightEntry(encoding: Tensor(shape: [2], scalars: [1 + powf(2, -11), 1 + 3 * powf(2, -11)]), as: .f16)
        XCTAssertEqual(e.floatTensor().scalars, [1, 1 + powf(2, -9)])
        // Int8 with a dequantisation scale.
        let q: [Int8] = [-128, -1, 0, 127]
        var out3 = [Float](repeating: 0, count: 4)
        q.withUnsafeBytes { r in out3.withUnsafeMutableBufferPointer { HalfPrecision.int8ToFloat(r.baseAddress!, count: 4, scale: 0.5, into: $0.baseAddress!) } }
        XCTAssertEqual(out3, [-64, -0.5, 0, 63.5])
    }

    // MARK: safetensors written by the reference library

    func testReadsEveryDTypeWrittenByReferenceLibrary() throws {
        let store = try Safetensors.read(EngineFixtures.fixtures.appendingPathComponent("safetensors_dtypes.safetensors"))
        let expect = try XCTUnwrap(EngineFixtures.fixtureJSON("safetensors_dtypes.json") as? [String: [String: Any]])
        XCTAssertEqual(Set(store.names), Set(expect.keys))
        XCTAssertEqual(store.metadata["format"], "pt")
        XCTAssertEqual(store.entry("bf16")?.dtype, .bf16)
        XCTAssertEqual(store.entry("bool")?.dtype, .bool)
        for (name, e) in expect {
            let shape = try XCTUnwrap(e["shape"] as? [Int])
            let floats = try XCTUnwrap(e["floats"] as? [Double])
            let t = try store.take(name, shape: shape)
            XCTAssertEqual(t.shape, shape, name)
            for (a, b) in zip(t.scalars, floats) { XCTAssertEqual(a, Float(b), name) }
            if let ints = e["ints"] as? [Int] {
                XCTAssertEqual(try XCTUnwrap(store.entry(name)).integers(), ints.map(Int64.init), name)
            }
        }
        try store.finish()
        // Our Float32 → F16/BF16 rounding agrees with PyTorch's on the same values.
        let f32 = try XCTUnwrap(store.entry("f32")).floatTensor()
        XCTAssertEqual(WeightEntry(encoding: f32, as: .f16).floatTensor().scalars, try XCTUnwrap(store.entry("f16")).floatTensor().scalars)
        XCTAssertEqual(WeightEntry(encoding: f32, as: .bf16).floatTensor().scalars, try XCTUnwrap(store.entry("bf16")).floatTensor().scalars)
    }

    // MARK: The real MiniLM checkpoint

    func testMiniLMTensorTableMatchesSpec() throws {
        let url = ModelCache.root.appendingPathComponent("all-MiniLM-L6-v2/model.safetensors")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: url.path), "MiniLM not bootstrapped at \(url.path)")
        let spec = try String(contentsOf: EngineFixtures.shared.appendingPathComponent("specs/minilm-tensors.txt"), encoding: .utf8)
        var expected: [String: (String, [Int])] = [:]
        for line in spec.split(separator: "\n") where !line.hasPrefix("#") {
            let cols = line.split(separator: "\t").map(String.init)
            guard cols.count == 5 else { continue }
            let shape = cols[2].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                .map { Int($0.trimmingCharacters(in: .whitespaces))! }
            expected[cols[0]] = (cols[1], shape)
        }
        XCTAssertGreaterThan(expected.count, 100)
        let store = try Safetensors.read(url)
        XCTAssertEqual(Set(store.names), Set(expected.keys))
        for (name, (dtype, shape)) in expected {
            XCTAssertEqual(store.entry(name)?.dtype.rawValue, dtype, name)
            XCTAssertEqual(store.entry(name)?.shape, shape, name)
        }
        // position_ids are 0..<512 by construction of BERT checkpoints.
        XCTAssertEqual(try XCTUnwrap(store.entry("embeddings.position_ids")).integers(), (0..<512).map(Int64.init))
        // Strict loading: a wrong shape and a missing name are errors naming the weight.
        XCTAssertThrowsError(try store.take("embeddings.word_embeddings.weight", shape: [30522, 768])) { e in
            XCTAssertEqual(e as? WeightFormatError, .shapeMismatch(file: url.path, weight: "embeddings.word_embeddings.weight",
                                                                  expected: [30522, 768], found: [30522, 384]))
        }
        XCTAssertThrowsError(try store.scoped("encoder.layer.6.").take("output.dense.weight", shape: [384, 1536])) { e in
            XCTAssertEqual(e as? WeightFormatError, .missingWeight(file: url.path, weight: "encoder.layer.6.output.dense.weight"))
        }
        let layer0 = store.scoped("encoder.layer.0.")
        let wq = try layer0.take("attention.self.query.weight", shape: [384, 384])
        XCTAssertEqual(wq.shape, [384, 384])
        XCTAssertTrue(wq.scalars.allSatisfy(\.isFinite))
        XCTAssertThrowsError(try store.finish()) { e in
            guard case let .unusedWeights(_, names)? = e as? WeightFormatError else { return XCTFail("\(e)") }
            XCTAssertEqual(names.count, expected.count - 1)
            XCTAssertFalse(names.contains("encoder.layer.0.attention.self.query.weight"))
        }
        store.skip { _ in true }
        try store.finish()
    }

    // MARK: Round trips

    func testWriteReadRoundTripEveryDType() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [0, 1, -2, 3, 100, -100, 7, 12]
        let exact = Tensor(shape: [2, 4], scalars: values)
        var weights: [String: WeightEntry] = [:]
        for d in WeightDType.allCases where d != .u8 && d != .bool { weights["w.\(d.rawValue)"] = WeightEntry(encoding: exact, as: d) }
        let nonNegative = Tensor(shape: [8], scalars: values.map(abs))
        weights["w.U8"] = WeightEntry(encoding: nonNegative, as: .u8)
        weights["w.BOOL"] = WeightEntry(encoding: exact, as: .bool)
        weights["name with \"quotes\" and é"] = WeightEntry(Tensor(scalar: 2.5))
        let url = dir.appendingPathComponent("m.safetensors")
        try Safetensors.write(weights, metadata: ["format": "pt", "epoch": "3"], to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.safetensors"], "no temp file left")
        let back = try Safetensors.read(url)
        XCTAssertEqual(back.metadata, ["format": "pt", "epoch": "3"])
        for d in WeightDType.allCases where d != .u8 && d != .bool {
            XCTAssertEqual(back.entry("w.\(d.rawValue)")?.dtype, d)
            XCTAssertEqual(try back.take("w.\(d.rawValue)", shape: [2, 4]).scalars, values, d.rawValue)
        }
        XCTAssertEqual(try back.take("w.U8", shape: [8]).scalars, values.map(abs))
        XCTAssertEqual(try back.take("w.BOOL", shape: [2, 4]).scalars, values.map { $0 != 0 ? 1 : 0 })
        XCTAssertEqual(try back.take("name with \"quotes\" and é", shape: []).scalars, [2.5])
        try back.finish()
        // The data section starts 8-byte aligned, as the reference writer pads it.
        let raw = try Data(contentsOf: url)
        let n = raw.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual((8 + n) % 8, 0)
        // Random float tensors survive F32 exactly.
        var rng = SeededGenerator(seed: 7)
        let r = Tensor.randomNormal([33, 17], using: &rng)
        try Safetensors.write(tensors: ["r": r], to: url)
        XCTAssertEqual(try Safetensors.read(url).take("r", shape: [33, 17]).scalars, r.scalars)
    }

    // MARK: Hostile files

    /// Builds a file from a header string and `dataBytes` bytes of data, with an optional length override.
    private func file(_ header: String, dataBytes: Int, length: UInt64? = nil) -> Data {
        var d = Data()
        withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(repeating: 0, count: dataBytes))
        return d
    }

    private func assertRefused(_ data: Data, _ expectedFragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.parse(data, source: "evil.safetensors"), file: file, line: line) { e in
            guard let err = e as? WeightFormatError else { return XCTFail("untyped error \(e)", file: file, line: line) }
            XCTAssertTrue(err.description.contains("evil.safetensors"), err.description, file: file, line: line)
            XCTAssertTrue(err.description.contains(expectedFragment), "'\(err.description)' lacks '\(expectedFragment)'", file: file, line: line)
        }
    }

    func testHostileFilesAreRefusedWithErrors() {
        let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}"#
        XCTAssertNoThrow(try Safetensors.parse(file(good, dataBytes: 12), source: "ok"))
        assertRefused(Data([1, 2, 3]), "too short")
        assertRefused(file(good, dataBytes: 12).prefix(40), "past the end")                       // truncated header
        assertRefused(file(good, dataBytes: 11), "run past")                                       // truncated data
        assertRefused(file(good, dataBytes: 13), "cover 12 bytes")                                // trailing bytes
        assertRefused(file(good, dataBytes: 12, length: UInt64.max), "exceeds")                   // huge length
        assertRefused(file(good, dataBytes: 12, length: 1 << 40), "exceeds")
        assertRefused(file(good, dataBytes: 12, length: 1_000_000), "past the end")
        assertRefused(file("this is not json at all", dataBytes: 0), "'{'")
        assertRefused(file("{\"a\": [1, 2", dataBytes: 0), "JSON")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12), "overlap")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#, dataBytes: 20), "gap")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8), "needs 12 bytes")   // wrong byte size
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, dataBytes: 8), "'a'")  // overflow
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8), "negative")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8), "increasing")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, dataBytes: 8), "2 entries")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0, 8.5]}}"#, dataBytes: 8), "JSON")
        assertRefused(file(#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8), "Q4")
        assertRefused(file(#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, dataBytes: 8), "shape")
        assertRefused(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}"#, dataBytes: 8), "JSON")
        assertRefused(file(#"{"__metadata__":{"k":5}}"#, dataBytes: 0), "JSON")
        assertRefused(file(#"[1,2]"#, dataBytes: 0), "'{'")
        // Deep nesting must not crash the parser.
        assertRefused(file("{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}", dataBytes: 0), "JSON")
        // Random garbage never crashes: every outcome is a typed error (or, by luck, a valid file).
        var rng = SeededGenerator(seed: 3)
        let base = file(good, dataBytes: 12)
        for _ in 0..<300 {
            var d = base
            for _ in 0..<3 { d[Int(rng.next() % UInt64(d.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            do { _ = try Safetensors.parse(d, source: "fuzz") } catch { XCTAssertTrue(error is WeightFormatError, "\(error)") }
        }
    }

    func testMissingFileIsATypedError() {
        XCTAssertThrowsError(try Safetensors.read(URL(fileURLWithPath: "/nonexistent/x.safetensors"))) { e in
            guard case .cannotRead(let f, _)? = e as? WeightFormatError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, "/nonexistent/x.safetensors")
        }
    }
}
