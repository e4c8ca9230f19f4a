import LeptonEngine
import XCTest

/// What a hostile or careless input does to the built `lepton-chat`: colliding output names,
/// damaged audio, poisoned model weights. Each gives one line on stderr and a documented code.
extension RespondPipelineTests {
    var jfk: URL { Repo.root.appendingPathComponent("samples/chat/jfk.wav") }

    /// Runs sox (installed with the project's tools) or skips the test.
    func sox(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sox"] + args
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("sox is not installed") }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("sox failed on \(args)") }
    }

    func lines(_ s: String) -> [Substring] { s.split(separator: "\n") }

    func testTranscribeRefusesOutputNamesThatCollide() throws {
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b"), out = dir.appendingPathComponent("out")
        for d in [a, b] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(at: jfk, to: a.appendingPathComponent("x.wav"))
        try FileManager.default.copyItem(at: Repo.root.appendingPathComponent("samples/chat/jfk_tel8k.wav"), to: b.appendingPathComponent("x.wav"))
        try sox([jfk.path, a.appendingPathComponent("x.flac").path])
        for inputs in [["a/x.wav", "b/x.wav"], ["a/x.wav", "a/x.flac"]] {
            let paths = inputs.map { dir.appendingPathComponent($0).path }
            for format in [["-o", out.path], ["-f", "all", "-o", out.path]] {
                let r = try run(["transcribe"] + format + paths)
                XCTAssertEqual(r.status, 64, r.stderr)
                XCTAssertEqual(lines(r.stderr).count, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains(paths[0]) && r.stderr.contains(paths[1]), r.stderr)
                // Refused before any work: nothing written, not even the folder.
                XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
            }
        }
        // On stdout there is nothing to overwrite: both transcripts are printed.
        let r = try run(["transcribe", dir.appendingPathComponent("a/x.wav").path, dir.appendingPathComponent("b/x.wav").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(lines(r.stdout).count, 2, r.stdout)
    }

    func testTranscribeReportsDamagedAudioAndKeepsDecoderNoiseOff() throws {
        // A cut-off Ogg (made by sox, cut at half its bytes) was transcribed as half the speech.
        let ogg = dir.appendingPathComponent("jfk.ogg"), half = dir.appendingPathComponent("half.ogg")
        try sox([jfk.path, ogg.path])
        let bytes = try Data(contentsOf: ogg)
        try bytes.prefix(bytes.count / 2).write(to: half)
        var r = try run(["transcribe", half.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(lines(r.stderr).count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("lepton-chat: error: \(half.path): truncated"), r.stderr)

        // Random bytes behind MP3 frame headers: mpg123 printed a line per bad frame, "that" came out.
        var noise: [UInt8] = []
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 { noise += [0xFF, 0xFB, 0x90, 0x64] + (0..<413).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let mp3 = dir.appendingPathComponent("noise.mp3")
        try Data(noise).write(to: mp3)
        r = try run(["transcribe", mp3.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(lines(r.stderr).count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(mp3.path) && r.stderr.contains("damaged"), r.stderr)

        // In a batch the good file is transcribed, each bad one named, and the exit status is 3.
        r = try run(["transcribe", jfk.path, half.path, mp3.path])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(lines(r.stdout).count, 1, r.stdout)
        XCTAssertTrue(r.stdout.lowercased().contains("ask not what your country can do for you"), r.stdout)
        let errors = lines(r.stderr).filter { $0.contains("error:") }
        XCTAssertEqual(errors.count, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 of 3 files failed"), r.stderr)
        XCTAssertFalse(r.stderr.contains("libmpg123"), r.stderr)
    }

    /// A copy of the shipped model whose `file` has every float of `weight` replaced by `value`
    /// (the safetensors layout, read here independently: u64 header size, JSON header, data).
    func poisonedModel(_ file: String, _ weight: String, with value: Float, onlyFirst: Bool) throws -> URL {
        let model = dir.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Repo.bank.appendingPathComponent("model"), to: model)
        let url = model.appendingPathComponent(file)
        var bytes = [UInt8](try Data(contentsOf: url))
        let headerSize = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerSize)])) as! [String: Any]
        let entry = try XCTUnwrap(header[weight] as? [String: Any], "no \(weight) in \(file)")
        XCTAssertEqual(entry["dtype"] as? String, "F32")
        let offsets = entry["data_offsets"] as! [Int]
        let pattern = withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        var at = 8 + headerSize + offsets[0]
        while at < 8 + headerSize + offsets[1] {
            bytes.replaceSubrange(at..<(at + 4), with: pattern)
            at += 4
            if onlyFirst { break }
        }
        try Data(bytes).write(to: url)
        return model
    }

    func testModelWithNaNWeightsIsRefusedNamingTheModel() throws {
        let model = try poisonedModel("head.safetensors", "classifier.weight", with: .nan, onlyFirst: true)
        var r = try run(["classify", "--model", model.path, "I lost my card"])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(lines(r.stderr).count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("head.safetensors") && r.stderr.contains("classifier.weight"), r.stderr)
        r = try run(["respond", "--model", model.path, "--domain", Repo.bank.appendingPathComponent("domain.yml").path, "--text", "I lost my card"])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertEqual(lines(r.stderr).count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(model.path) && !r.stderr.contains("session store"), r.stderr)
    }

    func testFiniteWeightsThatOverflowAreAnErrorNotANaNAnswer() throws {
        // TF-IDF features are non-negative, so 3e38 in every n-gram weight overflows each logit to
        // +inf, and the softmax gives NaN: finite weights, yet a `nan` confidence with exit 0 before.
        // The shipped head is int8 rows with scales (scripts/compact-lexical.py); the poisoned one
        // is a float32 file, as `train` writes it.
        let model = dir.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Repo.bank.appendingPathComponent("model"), to: model)
        let lexical = model.appendingPathComponent("lexical.safetensors")
        let shipped = try Safetensors.read(lexical)
        let shape = try XCTUnwrap(shipped.entry("lexical.weight")).shape
        try Safetensors.write(tensors: ["lexical.weight": Tensor(shape: shape, repeating: 3e38), "lexical.bias": try shipped.take("lexical.bias")],
                              to: lexical)
        var r = try run(["classify", "--model", model.path, "I lost my card"])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertFalse(r.stdout.lowercased().contains("nan"), r.stdout)
        XCTAssertEqual(lines(r.stderr).count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(model.path) && r.stderr.contains("non-finite"), r.stderr)
        r = try run(["respond", "--json", "--model", model.path, "--domain", Repo.bank.appendingPathComponent("domain.yml").path,
                     "--text", "I lost my card"])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stderr.contains(model.path) && r.stderr.contains("non-finite") && !r.stderr.contains("session store"), r.stderr)
    }

    func testJSONOutputsNameTheModelThatMadeThem() throws {
        // The short hash is SHA-256 over the model's files in order, computed here with sha256sum.
        let modelFolder = Repo.bank.appendingPathComponent("model")
        let files = ["intent-model.json", "head.safetensors", "lexicon.json", "lexical.safetensors"].map { modelFolder.appendingPathComponent($0).path }
        let expected = try sha256sumPrefix(files)
        for args in [["classify", "--model", modelFolder.path, "--json", "hello"], ["respond", "--json", "--text", "hello"],
                     ["test", "--model", modelFolder.path, "--data", Repo.bank.appendingPathComponent("nlu.yml").path, "--json"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let m = try json(r)["model"] as? [String: Any]
            XCTAssertEqual(m?["name"] as? String, "lepton-intent", "\(args): \(r.stdout)")
            XCTAssertEqual(m?["sha256"] as? String, expected, "\(args)")
        }
        let r = try run(["transcribe", "-f", "json", jfk.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try json(r)["model"] as? [String: Any]
        XCTAssertEqual(m?["name"] as? String, "whisper-tiny.en", r.stdout)
        XCTAssertEqual((m?["sha256"] as? String)?.count, 12, r.stdout)
    }
}

extension RespondPipelineTests {
    /// `train` was silent for 2 minutes on BANKING77: it now reports the sentences encoded, and
    /// its JSON names the model it wrote (the hash of the files it wrote, computed with sha256sum).
    func testTrainShowsProgressAndNamesTheModelItWrote() throws {
        let out = dir.appendingPathComponent("model")
        let r = try run(["train", "--data", Repo.bank.appendingPathComponent("nlu.yml").path, "--out", out.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("encoding: ") && r.stderr.contains("sentences"), r.stderr)
        let files = ["intent-model.json", "head.safetensors", "lexicon.json", "lexical.safetensors"].map { out.appendingPathComponent($0).path }
        let expected = try sha256sumPrefix(files)
        let j = try json(r)
        XCTAssertEqual((j["model"] as? [String: Any])?["sha256"] as? String, expected, r.stdout)
        XCTAssertNotNil(j["train_examples"], r.stdout)
        // -q silences the progress.
        let quiet = try run(["train", "-q", "--data", Repo.bank.appendingPathComponent("nlu.yml").path, "--out", out.path])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stderr, "")
    }
}

/// The first 12 hex digits of SHA-256 over `files` concatenated, as `sha256sum` computes it
/// (the independent reference for a model identity).
func sha256sumPrefix(_ files: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "cat \"$@\" | sha256sum", "sh"] + files
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run(); p.waitUntilExit()
    return String(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(12))
}

extension RespondPipelineTests {
    /// `train --save-dtype bfloat16`: both heads' weights stored as BF16 (the file's own header),
    /// and the model classifies as the float32 one does (same top intent on the training file's
    /// sentences we probe).
    func testTrainSaveDTypeStoresBothHeadsInThatType() throws {
        var top: [String: [String]] = [:]
        for dtype in ["float32", "bfloat16"] {
            let out = dir.appendingPathComponent("model-\(dtype)")
            let r = try run(["train", "-q", "--data", Repo.bank.appendingPathComponent("nlu.yml").path, "--out", out.path, "--save-dtype", dtype])
            XCTAssertEqual(r.status, 0, r.stderr)
            for file in ["head.safetensors", "lexical.safetensors"] {
                let bytes = [UInt8](try Data(contentsOf: out.appendingPathComponent(file)))
                let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
                let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
                let types = Set(header.compactMapValues { ($0 as? [String: Any])?["dtype"] as? String }.values)
                XCTAssertEqual(types, [dtype == "float32" ? "F32" : "BF16"], "\(dtype) \(file)")
            }
            for text in ["I lost my card", "what is my balance", "send money to my landlord"] {
                let c = try run(["classify", "--model", out.path, text])
                XCTAssertEqual(c.status, 0, c.stderr)
                top[dtype, default: []].append(String(c.stdout.split(separator: "\t")[0]))
            }
        }
        XCTAssertEqual(top["bfloat16"], top["float32"])
        XCTAssertEqual(top["float32"]?.count, 3)
    }
}
