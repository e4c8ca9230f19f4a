// Resize, colour maps and heatmap overlay, against hand-computed values and an external colour table.

import Foundation
import XCTest
import LeptonImage

final class ImageHelperTests: XCTestCase {
    /// Bilinear interpolation reproduces linear functions exactly: v = x + 2y on a 2x2 grid,
    /// upsampled to 4x4 with half-pixel centres, samples at source coordinates {0, .25, .75, 1}.
    func testBilinearOnALinearRamp() throws {
        let image = try PlanarImage(width: 2, height: 2, channels: 1, pixels: [0, 1, 2, 3])
        let up = try image.resizedBilinear(width: 4, height: 4)
        let s: [Float] = [0, 0.25, 0.75, 1]
        var expected: [Float] = []
        for y in 0..<4 { for x in 0..<4 { expected.append(s[x] + 2 * s[y]) } }
        XCTAssertEqual(up.pixels, expected)
        // Shrinking 4x4 → 2x2 samples at source 0.5 and 2.5: the means of 2x2 blocks for a linear image.
        let big = try PlanarImage(width: 4, height: 4, channels: 1, pixels: (0..<16).map { Float($0 % 4 + 4 * ($0 / 4)) })
        let down = try big.resizedBilinear(width: 2, height: 2)
        XCTAssertEqual(down.pixels, [2.5, 4.5, 10.5, 12.5])
        // Channels are independent; constants stay constant; same size is identity.
        let two = try PlanarImage(width: 3, height: 2, channels: 2, pixels: [Float](repeating: 0.25, count: 6) + [Float](repeating: 0.75, count: 6))
        let resized = try two.resizedBilinear(width: 7, height: 5)
        XCTAssertEqual(Set(resized.plane(0)), [0.25])
        XCTAssertEqual(Set(resized.plane(1)), [0.75])
        XCTAssertEqual(try two.resizedBilinear(width: 3, height: 2), two)
        assertImageError(try two.resizedBilinear(width: 0, height: 2), "zero width") { if case .invalidArgument = $0 { return true } else { return false } }
    }

    /// jet and viridis against matplotlib's tables sampled at t = k/16 (values as published in
    /// third-party colour-map listings, rounded to the 256-entry LUT).
    func testColormapsMatchMatplotlibSamples() {
        let viridis: [(Float, Float, Float)] = [
            (0.267004, 0.004874, 0.329415), (0.282327, 0.094955, 0.417331), (0.278826, 0.17549, 0.483397),
            (0.258965, 0.251537, 0.524736), (0.229739, 0.322361, 0.545706), (0.19943, 0.387607, 0.554642),
            (0.172719, 0.448791, 0.557885), (0.149039, 0.508051, 0.55725), (0.127568, 0.566949, 0.550556),
            (0.120638, 0.625828, 0.533488), (0.157851, 0.683765, 0.501686), (0.24607, 0.73891, 0.452024),
            (0.369214, 0.788888, 0.382914), (0.515992, 0.831158, 0.294279), (0.678489, 0.863742, 0.189503),
            (0.845561, 0.887322, 0.099702), (0.993248, 0.906157, 0.143936),
        ]
        let jet: [(Float, Float, Float)] = [
            (0, 0, 0.5), (0, 0, 0.785205), (0, 0.001961, 1), (0, 0.252941, 1), (0, 0.503922, 1), (0, 0.754902, 1),
            (0.085389, 1, 0.882353), (0.287793, 1, 0.679949), (0.490196, 1, 0.477546), (0.6926, 1, 0.275142),
            (0.895003, 1, 0.072739), (1, 0.814089, 0), (1, 0.581699, 0), (1, 0.34931, 0), (1, 0.116921, 0),
            (0.76738, 0, 0), (0.5, 0, 0),
        ]
        for k in 0...16 {
            let t = Float(k) / 16
            // matplotlib looks up entry floor(t * 256) clipped to 255, i.e. t' = entry / 255.
            let lut = Float(min(255, Int(t * 256))) / 255
            for (map, table, tolerance) in [(Colormap.viridis, viridis, Float(0.002)), (.jet, jet, Float(0.02))] {
                let c = map.rgb(map == .viridis ? t : lut)
                XCTAssertEqual(c.r, table[k].0, accuracy: tolerance, "\(map) r at \(t)")
                XCTAssertEqual(c.g, table[k].1, accuracy: tolerance, "\(map) g at \(t)")
                XCTAssertEqual(c.b, table[k].2, accuracy: tolerance, "\(map) b at \(t)")
            }
        }
        // viridis lightness rises monotonically; out-of-range and NaN inputs clamp.
        var last: Float = -1
        for i in 0...100 {
            let c = Colormap.viridis.rgb(Float(i) / 100)
            let luma = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b
            XCTAssertGreaterThan(luma, last)
            last = luma
        }
        XCTAssertEqual(Colormap.jet.rgb(-3).b, 0.5)
        XCTAssertEqual(Colormap.jet.rgb(7).r, 0.5)
        XCTAssertEqual(Colormap.gray.rgb(.nan).r, 0)
    }

    func testHeatmapOverlay() throws {
        let base = try PlanarImage(width: 4, height: 4, channels: 1, pixels: (0..<16).map { Float($0) / 15 })
        let heat = try PlanarImage(width: 2, height: 2, channels: 1, pixels: [0, 1, 2, 3])
        // alpha 0: the gray base replicated into RGB.
        let none = try base.overlay(heatmap: heat, alpha: 0)
        XCTAssertEqual(none.channels, 3)
        XCTAssertEqual(Array(none.plane(1)), Array(base.plane(0)))
        // alpha 1: pure colour map of the min-max normalised, upsampled heat (v = (x + 2y)/3 at {0,.25,.75,1}).
        let full = try base.overlay(heatmap: heat, colormap: .viridis, alpha: 1)
        let s: [Float] = [0, 0.25, 0.75, 1]
        for y in 0..<4 {
            for x in 0..<4 {
                let c = Colormap.viridis.rgb((s[x] + 2 * s[y]) / 3)
                XCTAssertEqual(full[0, y, x], c.r, accuracy: 1e-6)
                XCTAssertEqual(full[2, y, x], c.b, accuracy: 1e-6)
            }
        }
        // Weighted by value: the coldest pixel keeps the base exactly.
        let weighted = try base.overlay(heatmap: heat, alpha: 0.8, weightByValue: true)
        XCTAssertEqual(weighted[0, 0, 0], base[0, 0, 0])
        XCTAssertEqual(weighted[1, 3, 3], 0.2 * base[0, 3, 3] + 0.8 * Colormap.jet.rgb(1).g, accuracy: 1e-6)
        // The result encodes as an RGB PNG.
        XCTAssertEqual(try PNGDecoder.decode(data: PNGEncoder.encode(full)).colorType, .rgb)
        assertImageError(try base.overlay(heatmap: base.overlay(heatmap: heat)), "3-channel heatmap") {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        // Grayscale conversion uses BT.601 weights.
        let rgb = try PlanarImage(width: 1, height: 1, channels: 3, pixels: [1, 0, 0])
        XCTAssertEqual(rgb.grayscale().pixels, [0.299])
    }
}
