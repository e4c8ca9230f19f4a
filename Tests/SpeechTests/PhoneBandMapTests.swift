import Foundation
import LeptonEngine
import XCTest
@testable import LeptonSpeech

/// The phone-band map: a ridge regression from phone-copy features to wideband ones.
final class PhoneBandMapTests: XCTestCase {
    let mels = WhisperLogMel.mels

    /// Deterministic values in about [-1, 1].
    func noise(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Double(s % 2_000_001) / 1_000_000 - 1)
        }
    }

    /// Wideband features made from phone ones by a known map (context 1): the fit must find it.
    func testFitRecoversAKnownMap() throws {
        let context = 1, inputs = mels * 3 + 1
        let truth = noise(inputs * mels, seed: 7).map { $0 * 0.05 }
        var fitter = WhisperPhoneBandMap.Fitter(context: context)
        var phones: [[Float]] = [], wides: [[Float]] = []
        for r in 0..<4 {
            let frames = 300 + 17 * r
            let phone = noise(frames * mels, seed: UInt64(100 + r))
            // wide[t][c] = Σ_o Σ_b phone[clamp(t+o)][b] · truth[(o+1)·80 + b][c] + truth[bias][c], in Double.
            var wide = [Float](repeating: 0, count: frames * mels)
            for t in 0..<frames {
                for c in 0..<mels {
                    var v = Double(truth[(inputs - 1) * mels + c])
                    for o in -1...1 {
                        let s = min(max(t + o, 0), frames - 1)
                        for b in 0..<mels { v += Double(phone[s * mels + b]) * Double(truth[((o + 1) * mels + b) * mels + c]) }
                    }
                    wide[t * mels + c] = Float(v)
                }
            }
            fitter.add(wide: wide, phone: phone)
            phones.append(phone); wides.append(wide)
        }
        XCTAssertEqual(fitter.frames, 300 + 317 + 334 + 351)
        let map = try XCTUnwrap(fitter.solve(ridge: 1e-6))
        XCTAssertEqual(map.context, 1)
        var worst: Float = 0
        for i in truth.indices { worst = max(worst, abs(map.weight[i] - truth[i])) }
        XCTAssertLessThan(worst, 1e-3)
        // Applied to a recording, the map gives that recording's wideband features.
        var mapped = phones[2]
        mapped.withUnsafeMutableBufferPointer { map.apply(to: $0.baseAddress!, frames: $0.count / mels) }
        var err: Float = 0
        for i in mapped.indices { err = max(err, abs(mapped[i] - wides[2][i])) }
        XCTAssertLessThan(err, 1e-3)
        // Errors: before = mean (wide − phone)², worked out directly; after ≈ 0 for the exact map.
        var sq = 0.0, n = 0
        for (w, p) in zip(wides, phones) { for i in w.indices { sq += Double(w[i] - p[i]) * Double(w[i] - p[i]); n += 1 } }
        let (before, after) = map.meanSquaredErrors(on: Array(zip(wides, phones)).map { (wide: $0.0, phone: $0.1) })
        XCTAssertEqual(before, sq / Double(n), accuracy: 1e-6 * sq / Double(n))
        XCTAssertLessThan(after, 1e-6)
    }

    /// With context 0, the identity weights and a bias, each feature moves by its band's bias;
    /// context frames beyond the ends repeat the end frame.
    func testApplyByHand() {
        var w = [Float](repeating: 0, count: (mels + 1) * mels)
        for b in 0..<mels { w[b * mels + b] = 1; w[mels * mels + b] = Float(b) / 100 }
        let map = WhisperPhoneBandMap(context: 0, weight: w)
        var x = noise(5 * mels, seed: 3)
        let before = x
        x.withUnsafeMutableBufferPointer { map.apply(to: $0.baseAddress!, frames: 5) }
        for t in 0..<5 { for b in 0..<mels { XCTAssertEqual(x[t * mels + b], before[t * mels + b] + Float(b) / 100, accuracy: 1e-6) } }

        // Context 1, weight only on the "next frame" block: frame t becomes frame t+1 (the last repeats).
        var shift = [Float](repeating: 0, count: (3 * mels + 1) * mels)
        for b in 0..<mels { shift[(2 * mels + b) * mels + b] = 1 }
        var y = before
        y.withUnsafeMutableBufferPointer { WhisperPhoneBandMap(context: 1, weight: shift).apply(to: $0.baseAddress!, frames: 5) }
        XCTAssertEqual(Array(y[0..<(4 * mels)]), Array(before[mels..<(5 * mels)]))
        XCTAssertEqual(Array(y[(4 * mels)...]), Array(before[(4 * mels)...]))
    }

    /// The nonlinear map: trained on a target that a linear map cannot give (|phone| of band 3
    /// into band 70, the other bands kept), it learns it; applied, it writes only its bands; it
    /// survives a write and a read; mis-shaped or out-of-range parts are errors naming them.
    func testNetworkLearnsANonlinearBandAndRoundTrips() throws {
        var trainer = WhisperPhoneBandMap.NetworkTrainer(context: 0, bands: [70])
        var recordings: [(wide: [Float], phone: [Float])] = []
        for r in 0..<3 {
            let phone = noise(400 * mels, seed: UInt64(200 + r))
            var wide = phone
            for t in 0..<400 { wide[t * mels + 70] = abs(phone[t * mels + 3]) }
            trainer.add(wide: wide, phone: phone)
            recordings.append((wide, phone))
        }
        XCTAssertEqual(trainer.frames, 1200)
        var losses: [Double] = []
        let map = try XCTUnwrap(trainer.train(hidden: 16, epochs: 40, learningRate: 3e-3, batch: 64, seed: 1) { losses.append($1) })
        XCTAssertEqual(losses.count, 40)
        // Band 70 alone differs, by |x| against x: before = E[(|x| − x)²]/80 = E[4x²·(x<0)]/80 ≈ 2/3/80.
        let (before, after) = map.meanSquaredErrors(on: recordings)
        XCTAssertEqual(before, 2.0 / 3 / 80, accuracy: 0.001)
        XCTAssertLessThan(after, before / 20, "losses \(losses)")
        // Only band 70 is written.
        var x = recordings[0].phone
        x.withUnsafeMutableBufferPointer { map.apply(to: $0.baseAddress!, frames: 400) }
        for i in x.indices where i % mels != 70 { XCTAssertEqual(x[i], recordings[0].phone[i]) }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phone-band-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("mlp.safetensors")
        try map.write(to: url)
        let back = try WhisperPhoneBandMap(contentsOf: url)
        XCTAssertEqual(back.network?.bands, [70])
        var y = recordings[1].phone, z = recordings[1].phone
        y.withUnsafeMutableBufferPointer { map.apply(to: $0.baseAddress!, frames: 400) }
        z.withUnsafeMutableBufferPointer { back.apply(to: $0.baseAddress!, frames: 400) }
        XCTAssertEqual(y, z)

        let n = try XCTUnwrap(map.network)
        func fails(_ weights: [String: WeightEntry], _ expected: String, line: UInt = #line) throws {
            let bad = dir.appendingPathComponent("bad.safetensors")
            try Safetensors.write(weights, metadata: ["format": WhisperPhoneBandMap.format, "context": "0", "kind": "mlp"], to: bad)
            XCTAssertThrowsError(try WhisperPhoneBandMap(contentsOf: bad), line: line) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)", line: line)
            }
        }
        var parts: [String: WeightEntry] = [
            "phone_band.hidden.weight": WeightEntry(n.hiddenWeight), "phone_band.hidden.bias": WeightEntry(n.hiddenBias),
            "phone_band.output.weight": WeightEntry(n.outputWeight), "phone_band.output.bias": WeightEntry(n.outputBias),
            "phone_band.bands": WeightEntry(encoding: Tensor(shape: [1], scalars: [80]), as: .i64),
        ]
        try fails(parts, "phone_band.bands")
        parts["phone_band.bands"] = WeightEntry(encoding: Tensor(shape: [1], scalars: [70]), as: .i64)
        parts["phone_band.output.bias"] = WeightEntry(Tensor(shape: [2], scalars: [0, 0]))
        try fails(parts, "phone_band.output.bias")
        parts["phone_band.output.bias"] = WeightEntry(n.outputBias)
        parts["phone_band.hidden.weight"] = WeightEntry(Tensor(shape: [16, 81], repeating: 0))
        try fails(parts, "phone_band.hidden.weight")
    }

    func testWriteReadAndStrictLoading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phone-band-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let map = WhisperPhoneBandMap(context: 2, weight: noise((5 * mels + 1) * mels, seed: 9))
        let url = dir.appendingPathComponent("map.safetensors")
        try map.write(to: url)
        let back = try WhisperPhoneBandMap(contentsOf: url)
        XCTAssertEqual(back.context, 2)
        XCTAssertEqual(back.weight, map.weight)

        func fails(_ weights: [String: WeightEntry], _ metadata: [String: String], _ expected: String, line: UInt = #line) throws {
            let bad = dir.appendingPathComponent("bad.safetensors")
            try Safetensors.write(weights, metadata: metadata, to: bad)
            XCTAssertThrowsError(try WhisperPhoneBandMap(contentsOf: bad), line: line) { e in
                let text = "\(e)"
                XCTAssertTrue(text.contains(bad.path) && text.contains(expected), text, line: line)
            }
        }
        let good = WeightEntry(Tensor(shape: [5 * mels + 1, mels], scalars: map.weight))
        let meta = ["format": WhisperPhoneBandMap.format, "context": "2"]
        try fails(["phone_band.weight": good], ["format": "lepton-intent-head", "context": "2"], "not a phone-band map")
        try fails(["phone_band.weight": good], ["format": WhisperPhoneBandMap.format], "context")
        try fails(["phone_band.weight": good], ["format": WhisperPhoneBandMap.format, "context": "1"], "phone_band.weight")
        try fails(["other": good], meta, "phone_band.weight")
        try fails(["phone_band.weight": good, "extra": WeightEntry(Tensor(shape: [1], scalars: [0]))], meta, "extra")
        var nan = map.weight
        nan[17] = .nan
        try fails(["phone_band.weight": WeightEntry(Tensor(shape: [5 * mels + 1, mels], scalars: nan))], meta, "NaN")
        XCTAssertThrowsError(try WhisperPhoneBandMap(contentsOf: dir.appendingPathComponent("absent.safetensors")))
    }

    /// A folder's pairs: NAME_tel8k.wav with NAME.wav beside it, nothing else.
    func testPairsOfAFolder() throws {
        let pairs = try WhisperPhoneBandMap.pairs(in: SpeechFixtures.bankDev)
        XCTAssertEqual(pairs.count, 20)
        for p in pairs {
            XCTAssertEqual(p.phone.lastPathComponent, p.wide.deletingPathExtension().lastPathComponent + "_tel8k.wav")
        }
        XCTAssertThrowsError(try WhisperPhoneBandMap.pairs(in: SpeechFixtures.bankDev.appendingPathComponent("absent")))
    }

    /// The transcriber maps phone audio only: a map that wipes every feature (all weights 0)
    /// leaves the 16 kHz call's transcript as it was and silences the 8 kHz copy's.
    func testTranscriberMapsPhoneAudioOnly() throws {
        let model = try SpeechFixtures.model()
        let wipe = WhisperPhoneBandMap(context: 0, weight: [Float](repeating: 0, count: (mels + 1) * mels))
        var options = WhisperTranscribeOptions()
        options.beamSize = 1
        let plain = WhisperTranscriber(model: model, options: options)
        options.phoneBandMap = wipe
        let mapped = WhisperTranscriber(model: model, options: options)
        let wide = SpeechFixtures.bankDev.appendingPathComponent("check_balance_01.wav")
        let phone = SpeechFixtures.bankDev.appendingPathComponent("check_balance_01_tel8k.wav")
        XCTAssertEqual(try mapped.transcribe(url: wide).text, try plain.transcribe(url: wide).text)
        let heard = try plain.transcribe(url: phone).text
        XCTAssertTrue(heard.lowercased().contains("current account"), heard)
        XCTAssertNotEqual(try mapped.transcribe(url: phone).text, heard)
    }
}
