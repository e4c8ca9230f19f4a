import LeptonEngine

// Kernels of the scan classifier, on raw buffers in channel-major `[C, N, H, W]` layout: a
// 3×3 convolution is then one GEMM `[Cout, Cin·9] · [Cin·9, N·H·W]` whose output is already in
// that layout, and batch norm works on one contiguous run per channel.

/// Unfolds `x[cin, n, h, w]` into `col[cin·9, n·h·w]` for a 3×3 convolution with padding 1.
@inline(__always)
func im2col3x3(_ x: UnsafePointer<Float>, cin: Int, n: Int, h: Int, w: Int, _ col: UnsafeMutablePointer<Float>) {
    let plane = h * w, m = n * plane
    // Addresses cross into the worker closure as integers (pointers are not Sendable).
    let xa = Int(bitPattern: x), ca = Int(bitPattern: col)
    parallelChunks(cin * 9, grain: 4) { lo, hi in
        let xb = UnsafeMutablePointer<Float>(bitPattern: xa)!, cb = UnsafeMutablePointer<Float>(bitPattern: ca)!
        for r in lo..<hi {
            let ci = r / 9, dy = (r % 9) / 3 - 1, dx = r % 3 - 1
            let dst = cb + r * m
            for b in 0..<n {
                let src = xb + (ci * n + b) * plane
                let out = dst + b * plane
                for y in 0..<h {
                    let sy = y + dy
                    let row = out + y * w
                    if sy < 0 || sy >= h { row.update(repeating: 0, count: w); continue }
                    let srow = src + sy * w
                    let x0 = max(0, -dx), x1 = min(w, w - dx)
                    if x0 > 0 { row[0] = 0 }
                    if x1 < w { row[w - 1] = 0 }
                    (row + x0).update(from: srow + x0 + dx, count: x1 - x0)
                }
            }
        }
    }
}

/// Folds `col[cin·9, n·h·w]` back, accumulating into `dx[cin, n, h, w]` (overwritten).
@inline(__always)
func col2im3x3(_ col: UnsafePointer<Float>, cin: Int, n: Int, h: Int, w: Int, _ dx: UnsafeMutablePointer<Float>) {
    let plane = h * w, m = n * plane
    let ca = Int(bitPattern: col), da = Int(bitPattern: dx)
    parallelChunks(cin, grain: 1) { lo, hi in
        let cb = UnsafeMutablePointer<Float>(bitPattern: ca)!, db = UnsafeMutablePointer<Float>(bitPattern: da)!
        for ci in lo..<hi {
            (db + ci * m).update(repeating: 0, count: m)
            for k in 0..<9 {
                let dy = k / 3 - 1, dxo = k % 3 - 1
                let src = cb + (ci * 9 + k) * m
                for b in 0..<n {
                    let out = db + (ci * n + b) * plane
                    let s = src + b * plane
                    for y in 0..<h {
                        let sy = y + dy
                        if sy < 0 || sy >= h { continue }
                        let x0 = max(0, -dxo), x1 = min(w, w - dxo)
                        let orow = out + sy * w + dxo, srow = s + y * w
                        for x in x0..<x1 { orow[x] += srow[x] }
                    }
                }
            }
        }
    }
}

/// 2×2 max pooling with stride 2 over `[planes, h, w]`; records the winning input index.
@inline(__always)
func maxPool2(_ x: UnsafePointer<Float>, planes: Int, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>, _ arg: UnsafeMutablePointer<Int32>) {
    let oh = h / 2, ow = w / 2
    for p in 0..<planes {
        let src = x + p * h * w, dst = y + p * oh * ow, ai = arg + p * oh * ow
        for oy in 0..<oh {
            for ox in 0..<ow {
                let i0 = (2 * oy) * w + 2 * ox
                var best = i0, v = src[i0]
                // PyTorch picks the first maximum in row-major window order.
                if src[i0 + 1] > v { v = src[i0 + 1]; best = i0 + 1 }
                if src[i0 + w] > v { v = src[i0 + w]; best = i0 + w }
                if src[i0 + w + 1] > v { v = src[i0 + w + 1]; best = i0 + w + 1 }
                dst[oy * ow + ox] = v
                ai[oy * ow + ox] = Int32(p * h * w + best)
            }
        }
    }
}

/// Adam / AdamW on one parameter buffer (decoupled weight decay when `decay > 0`).
struct AdamState {
    var m: [Float]
    var v: [Float]
    init(count: Int) { m = [Float](repeating: 0, count: count); v = m }

    mutating func step(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, count: Int, lr: Float, t: Int,
                       beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, decay: Float = 0) {
        let c1 = 1 - Float.pow(beta1, Float(t)), c2 = 1 - Float.pow(beta2, Float(t))
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                let mp = mb.baseAddress!, vp = vb.baseAddress!
                for i in 0..<count {
                    let gi = g[i]
                    mp[i] = beta1 * mp[i] + (1 - beta1) * gi
                    vp[i] = beta2 * vp[i] + (1 - beta2) * gi * gi
                    let upd = (mp[i] / c1) / ((vp[i] / c2).squareRoot() + eps)
                    p[i] -= lr * (upd + decay * p[i])
                }
            }
        }
    }
}

extension Float {
    static func pow(_ a: Float, _ b: Float) -> Float { Float(Foundation.pow(Double(a), Double(b))) }
}

import Foundation
