import Foundation

// The few element-wise steps a channels-last (NHWC) network needs between oneDNN's layers, and the
// reorders at its edges. Buffers are raw: they live only inside one call of a network segment.

/// Channels-last buffers: layout changes at a segment's edges and element-wise steps inside it.
public enum ChannelsLast {
    /// `[N, C, H, W]` → `[N, H, W, C]` (a transpose of each image's `[C, H·W]` matrix, in tiles
    /// so that both sides stay in cache).
    public static func fromNCHW(_ x: UnsafePointer<Float>, _ shape: ChannelsLastShape, into y: UnsafeMutablePointer<Float>) {
        transposeImages(x, rows: shape.channels, columns: shape.height * shape.width, batch: shape.batch, into: y)
    }

    /// `[N, H, W, C]` → `[N, C, H, W]`.
    public static func toNCHW(_ x: UnsafePointer<Float>, _ shape: ChannelsLastShape, into y: UnsafeMutablePointer<Float>) {
        transposeImages(x, rows: shape.height * shape.width, columns: shape.channels, batch: shape.batch, into: y)
    }

    /// Transposes `batch` row-major `[rows, columns]` matrices.
    static func transposeImages(_ x: UnsafePointer<Float>, rows: Int, columns: Int, batch: Int, into y: UnsafeMutablePointer<Float>) {
        let plane = rows * columns
        if rows == 1 || columns == 1 { y.update(from: x, count: plane * batch); return }
        let tile = 32
        for b in 0..<batch {
            let src = x + b * plane, dst = y + b * plane
            for r0 in stride(from: 0, to: rows, by: tile) {
                let r1 = min(rows, r0 + tile)
                for c0 in stride(from: 0, to: columns, by: tile) {
                    let c1 = min(columns, c0 + tile)
                    for r in r0..<r1 { for c in c0..<c1 { dst[c * rows + r] = src[r * columns + c] } }
                }
            }
        }
    }

    /// The mean of each image's channels over its pixels: `[N, H, W, C]` → `[N, C]` (which is
    /// also `[N, C, 1, 1]` in either layout). Summed in float32 pixel by pixel (a channel's
    /// additions in another order than the NCHW path's, so the two differ by rounding only).
    public static func globalAverage(_ x: UnsafePointer<Float>, _ shape: ChannelsLastShape, into y: UnsafeMutablePointer<Float>) {
        let c = shape.channels, pixels = shape.height * shape.width
        let scale = 1 / Float(pixels)
        for n in 0..<shape.batch {
            let out = y + n * c
            out.update(repeating: 0, count: c)
            var p = x + n * pixels * c
            for _ in 0..<pixels {
                for k in 0..<c { out[k] += p[k] }
                p += c
            }
            for k in 0..<c { out[k] *= scale }
        }
    }

    /// `y = a + b` (`y` may be `a` or `b`).
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = a[i] + b[i] }
    }

    /// `y = max(x, 0)` (`y` may be `x`); NaN stays NaN, as in ONNX `Relu`.
    public static func relu(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { let v = x[i]; y[i] = v < 0 ? 0 : v }
    }
}
