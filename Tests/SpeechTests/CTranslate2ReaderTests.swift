import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// The CTranslate2 reader on the real tiny.en file and on hostile files.
final class CTranslate2ReaderTests: XCTestCase {
    private var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("ct2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// Facts from ../shared/specs/ctranslate2-whisper-variables.txt (written by an independent parser).
    func testRealModelHeader() throws {
        let f = try CTranslate2File(contentsOf: SpeechFixtures.modelBin)
        XCTAssertEqual(f.binaryVersion, 6)
        XCTAssertEqual(f.specName, "WhisperSpec")
        XCTAssertEqual(f.specRevision, 3)
        XCTAssertEqual(f.variables.count, 148)
        XCTAssertEqual(f.aliases, ["decoder/projection/weight": "decoder/embeddings/weight"])
        let emb = try XCTUnwrap(f.variable("decoder/embeddings/weight"))
        XCTAssertEqual(emb.shape, [51864, 384])
        XCTAssertEqual(emb.dtype, .float16)
        XCTAssertEqual(emb.offset, 187)
        XCTAssertEqual(emb.byteCount, 39_831_552)
        XCTAssertEqual(f.variable("decoder/projection/weight")?.offset, 187)
        XCTAssertEqual(f.variable("decoder/layer_0/attention/linear_1/weight")?.offset, 40_130_820)
        XCTAssertEqual(try f.scalar("decoder/activation"), 3)
        XCTAssertEqual(try f.scalar("decoder/alignment_layer"), -1)
        XCTAssertEqual(try f.scalar("decoder/num_heads"), 6)
        XCTAssertEqual(f.variables.reduce(0) { $0 + $1.byteCount }, 75_529_741)
        // min/max of a float16 tensor as listed: gamma of decoder/layer_0/ffn/layer_norm.
        let g = try f.floats("decoder/layer_0/ffn/layer_norm/gamma", expectedShape: [384])
        XCTAssertEqual(g.min()!, 0.428711, accuracy: 1e-6)
        XCTAssertEqual(g.max()!, 3.76367, accuracy: 1e-5)
        XCTAssertThrowsError(try f.floats("decoder/layer_0/ffn/layer_norm/gamma", expectedShape: [385]))
        XCTAssertThrowsError(try f.floats("no/such/weight", expectedShape: [1]))
    }

    func testStrictModelLoad() throws {
        let m = try SpeechFixtures.model()
        XCTAssertEqual(m.tokenizer.count, 51864)
        XCTAssertEqual(m.config.suppressIDsBegin, [220, 50256])
        XCTAssertEqual(m.config.suppressIDs.count, 90)
        XCTAssertEqual(m.tokenizer.decode([843, 523, 616, 5891, 3399]), " And so my fellow Americans")
    }

    // MARK: Hostile files

    private func write(_ bytes: [UInt8]) throws -> URL {
        let u = tmp.appendingPathComponent("model-\(UUID().uuidString).bin")
        try Data(bytes).write(to: u)
        return u
    }

    private func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    private func str(_ s: String) -> [UInt8] {
        let b = Array(s.utf8) + [0]
        return [UInt8(b.count & 0xff), UInt8(b.count >> 8)] + b
    }

    /// A small valid v6 file: one float32 [2] tensor and one int8 scalar.
    private func tinyFile(version: UInt32 = 6, dims: [UInt32] = [2], numBytes: UInt32 = 8, trailing: [UInt8] = []) -> [UInt8] {
        var b = u32(version) + str("TestSpec") + u32(1) + u32(2)
        b += str("a/weight") + [UInt8(dims.count)] + dims.flatMap(u32) + [0] + u32(numBytes)
        b += u32(Float(1.5).bitPattern) + u32(Float(-2).bitPattern)
        b += str("b/flag") + [0] + [1] + u32(1) + [7]
        b += u32(0)
        return b + trailing
    }

    func testTinyValidFile() throws {
        let f = try CTranslate2File(contentsOf: try write(tinyFile()))
        XCTAssertEqual(try f.floats("a/weight", expectedShape: [2]), [1.5, -2])
        XCTAssertEqual(try f.scalar("b/flag"), 7)
    }

    func testOldBinaryVersionWithoutDTypeAndAliases() throws {
        // Version 2: spec name present, item size + element count, no aliases.
        var b = u32(2) + str("OldSpec") + u32(1) + u32(1)
        b += str("w") + [1] + u32(3) + [4] + u32(3)
        b += u32(Float(1).bitPattern) + u32(Float(2).bitPattern) + u32(Float(3).bitPattern)
        let f = try CTranslate2File(contentsOf: try write(b))
        XCTAssertEqual(try f.floats("w", expectedShape: [3]), [1, 2, 3])
    }

    func testHostileFilesThrowTypedErrors() throws {
        let good = tinyFile()
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("truncated header", Array(good.prefix(10))),
            ("truncated data", Array(good.prefix(good.count - 9))),
            ("bad version", tinyFile(version: 7)),
            ("version 0", tinyFile(version: 0)),
            ("absurd dims", tinyFile(dims: [0xFFFF_FFFF, 0xFFFF_FFFF], numBytes: 8)),
            ("byte count disagrees with shape", tinyFile(numBytes: 12)),
            ("trailing bytes", tinyFile(trailing: [1, 2, 3])),
            ("huge variable count", u32(6) + str("S") + u32(1) + u32(0xFFFF_FFFF)),
        ]
        for (name, bytes) in cases {
            XCTAssertThrowsError(try CTranslate2File(contentsOf: try write(bytes)), name) { e in
                XCTAssertTrue(e is CTranslate2Error, "\(name): \(e)")
                XCTAssertFalse("\(e)".isEmpty)
            }
        }
        XCTAssertThrowsError(try CTranslate2File(contentsOf: tmp.appendingPathComponent("missing.bin")))
    }

    /// Strict loading rejects a folder whose model.bin is not Whisper tiny.en.
    func testWhisperModelRejectsWrongFile() throws {
        let dir = tmp.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(tinyFile()).write(to: dir.appendingPathComponent("model.bin"))
        for f in ["config.json", "vocabulary.txt"] {
            try FileManager.default.copyItem(at: ModelCache.whisperTinyEn.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        XCTAssertThrowsError(try WhisperModel(directory: dir)) { e in XCTAssertTrue(e is SpeechError, "\(e)") }
        XCTAssertThrowsError(try WhisperModel(directory: tmp.appendingPathComponent("nowhere")))
    }
}
