// FuzzSeeds.swift: seeds that cannot be copied from samples/ because the samples are too big
// for -max_len (jfk.wav is 352 KB, the models are megabytes): small files of the same kinds,
// written with the project's own encoders so they exercise the real formats.

import Foundation
import LeptonAudio
import LeptonEngine

enum FuzzSeeds {
    static func write(to root: URL) throws {
        let fm = FileManager.default
        func folder(_ name: String) throws -> URL {
            let url = root.appendingPathComponent(name)
            try fm.createDirectory(at: url, withIntermediateDirectories: true)
            return url
        }
        // Audio: 0.1 s of a 440 Hz tone, mono and stereo, in every format the writer knows.
        let audio = try folder("audio")
        let rate = 8_000
        let mono = (0..<(rate / 10)).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        let stereo = mono.flatMap { [$0, -$0] }
        for format in AudioFileFormat.allCases {
            for (channels, samples) in [(1, mono), (2, stereo)] {
                let url = audio.appendingPathComponent("tone-\(format)-\(channels)ch.\(format.fileExtension)")
                // Some builds of libsndfile lack an encoder (MP3, Opus): skip those formats.
                try? AudioFileWriter.write(samples, sampleRate: format == .oggOpus ? 48_000 : rate, channels: channels,
                                           format: format, to: url)
            }
        }
        // Safetensors: one small file per dtype, plus metadata.
        let st = try folder("safetensors")
        for dtype in WeightDType.allCases {
            let shape = [2, 3]
            let bytes = Data((0..<(6 * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 * 37 + 1) })
            let entries = ["layer.weight": try WeightEntry(dtype: dtype, shape: shape, bytes: bytes),
                           "layer.bias": try WeightEntry(dtype: dtype, shape: [3], bytes: bytes.prefix(3 * dtype.byteSize))]
            try Safetensors.encode(entries, metadata: ["format": "pt"])
                .write(to: st.appendingPathComponent("tiny-\(dtype.rawValue).safetensors"))
        }
        // CTranslate2 model.bin, binary versions 1 through 6, one variable per dtype and an alias.
        let ct2 = try folder("ctranslate2")
        for version in UInt32(1)...6 { try ctranslate2Seed(version: version).write(to: ct2.appendingPathComponent("v\(version).bin")) }
        // The config of the node-model target's own scratch model (its weights stay beside it).
        let node = try folder("node-model")
        try Data(contentsOf: scratchNodeModel.appendingPathComponent("config.json")).write(to: node.appendingPathComponent("config.json"))
    }

    /// A CTranslate2 model.bin as the reader documents it (little endian, strings with NUL).
    static func ctranslate2Seed(version: UInt32) -> Data {
        var d = Data()
        func u8(_ v: UInt8) { d.append(v) }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func string(_ s: String) { u16(UInt16(s.utf8.count + 1)); d.append(contentsOf: Array(s.utf8) + [0]) }
        u32(version)
        if version >= 2 { string("WhisperSpec"); u32(3) }
        let vars: [(String, [UInt32], UInt8, Int)] = version >= 4
            ? [("a/weight", [2, 2], 0, 4), ("b/weight", [3], 4, 2), ("c/weight", [2], 1, 1), ("c/weight_scale", [], 0, 4)]
            : [("a/weight", [2, 2], 4, 4), ("b/weight", [3], 2, 2), ("c/weight", [2], 1, 1)]
        u32(UInt32(vars.count))
        for (name, shape, type, item) in vars {
            string(name)
            u8(UInt8(shape.count))
            for s in shape { u32(s) }
            let n = shape.reduce(1) { $0 * Int($1) }
            if version >= 4 { u8(type); u32(UInt32(n * item)) } else { u8(type); u32(UInt32(n)) }
            d.append(contentsOf: (0..<(n * item)).map { UInt8(truncatingIfNeeded: $0 * 29 + 3) })
        }
        if version >= 3 { u32(1); string("d/weight"); string("a/weight") }
        return d
    }
}
