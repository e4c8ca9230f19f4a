// Test helpers: data locations, an independent WAV parser and G.711 decoder, and a spectrum.

import Foundation
import XCTest
import LeptonAudio

enum AudioFixtures {
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var speech: URL { repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/speech") }
    static var dev: URL { speech.appendingPathComponent("dev") }
    static var bankDev: URL { speech.appendingPathComponent("bank-dev") }

    /// Files with `suffix` in `folder`, sorted; skips the test when the shared data is absent.
    static func files(in folder: URL, suffix: String) throws -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw XCTSkip("shared data not found at \(folder.path)")
        }
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// A fresh temporary folder, removed by the caller's `defer`.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-audio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// A minimal RIFF/WAVE parser written for the tests, sharing no code with LeptonAudio.
struct ReferenceWAV {
    var formatTag: Int
    var channels: Int
    var sampleRate: Int
    var bitsPerSample: Int
    var data: [UInt8]

    init(contentsOf url: URL) throws {
        let bytes = [UInt8](try Data(contentsOf: url))
        func le16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func le32(_ i: Int) -> Int { le16(i) | le16(i + 2) << 16 }
        guard bytes.count >= 12, Array(bytes[0..<4]) == Array("RIFF".utf8), Array(bytes[8..<12]) == Array("WAVE".utf8) else {
            throw NSError(domain: "ReferenceWAV", code: 1)
        }
        var offset = 12
        var fmt: (Int, Int, Int, Int)?
        var data: [UInt8]?
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            let size = le32(offset + 4)
            if id == "fmt " { fmt = (le16(offset + 8), le16(offset + 10), le32(offset + 12), le16(offset + 22)) }
            if id == "data" { data = Array(bytes[(offset + 8)..<min(bytes.count, offset + 8 + size)]) }
            offset += 8 + size + (size & 1)
        }
        guard let fmt, let data else { throw NSError(domain: "ReferenceWAV", code: 2) }
        (formatTag, channels, sampleRate, bitsPerSample) = fmt
        self.data = data
    }

    /// Samples scaled to [-1, 1) for 16-bit PCM (tag 1) and G.711 µ-law (tag 7).
    func samples() -> [Float] {
        switch (formatTag, bitsPerSample) {
        case (1, 16):
            return stride(from: 0, to: data.count - 1, by: 2).map {
                Float(Int16(bitPattern: UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8)) / 32768
            }
        case (7, 8):
            return data.map { Float(ReferenceWAV.muLawToLinear($0)) / 32768 }
        default:
            return []
        }
    }

    /// ITU-T G.711 µ-law expansion (the textbook bias-0x84 form), 16-bit scale.
    static func muLawToLinear(_ code: UInt8) -> Int {
        let u = ~code
        let exponent = Int((u >> 4) & 0x07)
        let mantissa = Int(u & 0x0F)
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        return (u & 0x80) != 0 ? -magnitude : magnitude
    }
}

/// Signal generation and spectral measurement for the resampler tests.
enum Spectrum {
    static func sine(frequency: Double, rate: Int, seconds: Double, amplitude: Float = 0.5) -> [Float] {
        let n = Int(Double(rate) * seconds)
        return (0..<n).map { amplitude * Float(sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    /// Power spectrum (linear power per bin, bins 0...n/2) of `x` under a 4-term Blackman-Harris
    /// window (side lobes at -92 dB, so leakage cannot hide or fake a -60 dB component).
    /// `x.count` must be a power of two.
    static func power(_ x: [Float]) -> [Double] {
        let n = x.count
        precondition(n > 0 && n & (n - 1) == 0)
        var re = [Double](repeating: 0, count: n)
        var im = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let t = 2 * Double.pi * Double(i) / Double(n)
            let w = 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) - 0.01168 * cos(3 * t)
            re[i] = Double(x[i]) * w
        }
        // Iterative radix-2 FFT.
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        var len = 2
        while len <= n {
            let angle = -2 * Double.pi / Double(len)
            for start in stride(from: 0, to: n, by: len) {
                for k in 0..<(len / 2) {
                    let wr = cos(angle * Double(k)), wi = sin(angle * Double(k))
                    let a = start + k, b = a + len / 2
                    let tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                }
            }
            len <<= 1
        }
        return (0...(n / 2)).map { re[$0] * re[$0] + im[$0] * im[$0] }
    }

    /// Frequency of the strongest bin.
    static func peakFrequency(_ p: [Double], rate: Int) -> Double {
        let k = p.indices.dropFirst().max { p[$0] < p[$1] } ?? 0
        return Double(k) * Double(rate) / Double(2 * (p.count - 1))
    }

    /// Strongest bin outside `±guard` bins of each frequency in `exclude`, in dB relative to the peak.
    static func strongestSpurDB(_ p: [Double], rate: Int, exclude: [Double], guardBins: Int = 8) -> Double {
        let n = 2 * (p.count - 1)
        let peak = p.max() ?? 1
        var spur = 0.0
        for k in 1..<p.count {
            let f = Double(k) * Double(rate) / Double(n)
            let near = exclude.contains { abs(f - $0) * Double(n) / Double(rate) <= Double(guardBins) }
            if !near { spur = max(spur, p[k]) }
        }
        return 10 * log10(max(spur, 1e-30) / peak)
    }
}

/// Asserts that `body` throws an ``AudioError`` matched by `matches`, and returns it.
@discardableResult
func assertAudioError<T>(_ body: @autoclosure () throws -> T, _ what: String,
                         file: StaticString = #filePath, line: UInt = #line,
                         _ matches: (AudioError) -> Bool) -> Error? {
    do {
        _ = try body()
        XCTFail("\(what): expected an AudioError, got success", file: file, line: line)
        return nil
    } catch {
        guard let audio = error as? AudioError else {
            XCTFail("\(what): expected an AudioError, got \(type(of: error)): \(error)", file: file, line: line)
            return error
        }
        XCTAssertTrue(matches(audio), "\(what): unexpected error \(audio)", file: file, line: line)
        print("[\(what)] \(audio)")
        return audio
    }
}
