import XCTest
import LeptonSpeech

final class WhisperFeaturesTests: XCTestCase {
    /// Log-mel statistics of every dev clip against faster-whisper's (golden-fw.json).
    func testLogMelMatchesFasterWhisper() throws {
        for g in try SpeechFixtures.golden().files {
            let x = try SpeechFixtures.samples(SpeechFixtures.dev.appendingPathComponent(g.file))
            XCTAssertEqual(x.count, g.samples, g.file)
            let (mel, frames) = try WhisperLogMel.features(of: x)
            XCTAssertEqual(frames, g.mel_frames, g.file)
            let mn = mel.min()!, mx = mel.max()!
            let mean = mel.reduce(0.0) { $0 + Double($1) } / Double(mel.count)
            XCTAssertEqual(Double(mn), g.mel_min, accuracy: 1e-4, g.file)
            XCTAssertEqual(Double(mx), g.mel_max, accuracy: 1e-4, g.file)
            XCTAssertEqual(mean, g.mel_mean, accuracy: 1e-4, g.file)
            // mel_head is [mel bin][frame] (faster-whisper's [80, frames] layout); ours is [frames, 80].
            for (b, row) in g.mel_head.enumerated() {
                for (t, v) in row.enumerated() {
                    XCTAssertEqual(Double(mel[t * 80 + b]), v, accuracy: 1e-4, "\(g.file) bin \(b) frame \(t)")
                }
            }
        }
    }

    /// The Slaney filterbank: each filter is a triangle with area-normalised peak 2/(f[i+2]-f[i]);
    /// the first filter rises from 0 Hz, peaks at 200/3·(mel step) Hz.
    func testMelFiltersShape() {
        let w = WhisperLogMel.melFilters
        XCTAssertEqual(w.count, 201 * 80)
        // Filter 0: f = mel_to_hz(0, 1, 2 steps); step in mel = hz_to_mel(8000)/81.
        let top = 15 + log(8.0) / (log(6.4) / 27)          // hz_to_mel(8000)
        let f1 = 200.0 / 3 * top / 81, f2 = 200.0 / 3 * 2 * top / 81
        let enorm = 2 / f2
        // Bin 1 is 40 Hz, past the peak f1 ≈ 37.2 Hz: on the falling edge towards f2 ≈ 74.5 Hz.
        XCTAssertEqual(Double(w[1 * 80 + 0]), (f2 - 40) / (f2 - f1) * enorm, accuracy: 1e-7)
        XCTAssertEqual(w[0], 0)
        // Every filter has some weight, none negative.
        for i in 0..<80 { XCTAssertGreaterThan((0..<201).map { w[$0 * 80 + i] }.max()!, 0) }
        XCTAssertGreaterThanOrEqual(w.min()!, 0)
    }

    /// Streaming windows equal the whole-file features (window 2 of a 40 s signal).
    func testStreamedWindowEqualsWholeFile() throws {
        var g = SystemRandomNumberGenerator()
        let x = (0..<(40 * 16000)).map { i in Float(sin(Double(i) * 0.05)) * 0.3 + Float.random(in: -0.01...0.01, using: &g) }
        let (whole, frames) = try WhisperLogMel.features(of: x)
        XCTAssertEqual(frames, 4001)
        let pass1 = WhisperLogMel(source: WhisperArraySource(x))
        let maximum = try pass1.scanMaximum()
        let pass2 = WhisperLogMel(source: WhisperArraySource(x))
        var out = [Float](repeating: -1, count: 3000 * 80)
        try out.withUnsafeMutableBufferPointer { try pass2.window(start: 0, frames: 3000, maximum: maximum, into: $0.baseAddress!) }
        XCTAssertEqual(Array(out[0..<(3000 * 80)]), Array(whole[0..<(3000 * 80)]))
        try out.withUnsafeMutableBufferPointer { try pass2.window(start: 2500, frames: 1500, maximum: maximum, into: $0.baseAddress!) }
        XCTAssertEqual(Array(out[0..<(1500 * 80)]), Array(whole[(2500 * 80)..<(4000 * 80)]))
        XCTAssertEqual(out[1500 * 80], 0)
        XCTAssertEqual(out.last, 0)
    }
}
