// A float16 weight matrix laid out for products with a few activation rows (decoder steps).
//
// Why a panel layout: with one to five activation rows, `y = x Wᵀ` is bound by reading W.
// Row-major W forces a horizontal sum per output (dot products along a row); in panels of 16
// outputs × all inputs, 16 outputs sit side by side in two SIMD8 lanes, so each input column
// is one broadcast of x times two vectors of W, accumulated in registers with no reduction.
// Keeping W in float16 (as CTranslate2 checkpoints store it: exact, no rounding) halves the
// bytes read per step; F16C's `vcvtph2ps` converts straight from memory.

/// A weight matrix `W [outputs, inputs]` in float16, stored as panels `[panels, inputs, 16]`
/// (panel `p` holds outputs `16p ..< 16p+16`, the last one zero-padded).
///
/// Owns its storage: call ``deallocate()`` once when done.
public struct HalfPanelMatrix: @unchecked Sendable {
    /// Outputs per panel.
    public static let width = 16
    public let outputs: Int
    public let inputs: Int
    /// Number of panels: `ceil(outputs / 16)`.
    public let panels: Int
    /// `[panels, inputs, 16]` float16.
    public let storage: UnsafeMutablePointer<Float16>

    /// Re-lays a row-major `[outputs, inputs]` float16 matrix into panels (a copy).
    public init(rowMajor w: UnsafePointer<Float16>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0)
        let pw = Self.width
        self.outputs = outputs
        self.inputs = inputs
        panels = (outputs + pw - 1) / pw
        storage = .allocate(capacity: panels * inputs * pw)
        for p in 0..<panels {
            let dst = storage + p * inputs * pw
            for lane in 0..<pw {
                let o = p * pw + lane
                if o < outputs {
                    let src = w + o * inputs
                    for j in 0..<inputs { dst[j * pw + lane] = src[j] }
                } else {
                    for j in 0..<inputs { dst[j * pw + lane] = 0 }
                }
            }
        }
    }

    public func deallocate() { storage.deallocate() }

    /// Row `o` of W as floats (e.g. an embedding lookup when W is a tied embedding table).
    /// - Parameter destination: `inputs` floats.
    public func row(_ o: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(o >= 0 && o < outputs)
        let pw = Self.width
        let src = storage + (o / pw) * inputs * pw + o % pw
        for j in 0..<inputs { destination[j] = Float(src[j * pw]) }
    }

    /// `y[r, o] (+)= Σ_j x[r, j] · W[o, j] (+ bias[o])` for `r < rows` and the outputs of
    /// panels `panelRange` (single-threaded: callers split panel ranges over their workers).
    ///
    /// - Parameters:
    ///   - x: `[rows, inputs]` with row stride `ldx`.
    ///   - y: `[rows, outputs]` with row stride `ldy`; only the outputs of `panelRange` are written.
    ///   - bias: `[outputs]` added to every row, or nil.
    ///   - accumulate: add to `y` instead of overwriting it (residual connections).
    /// The sum over `j` runs in input order, one accumulator per output, so the result does not
    /// depend on how panels are split.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, panelRange: Range<Int>,
                         into y: UnsafeMutablePointer<Float>, ldy: Int,
                         bias: UnsafePointer<Float>?, accumulate: Bool) {
        precondition(panelRange.lowerBound >= 0 && panelRange.upperBound <= panels)
        var r0 = 0
        while r0 < rows {
            let n = Swift.min(5, rows - r0)
            let xr = x + r0 * ldx, yr = y + r0 * ldy
            for p in panelRange {
                switch n {
                case 5: panel(5, p, xr, ldx, yr, ldy, bias, accumulate)
                case 4: panel(4, p, xr, ldx, yr, ldy, bias, accumulate)
                case 3: panel(3, p, xr, ldx, yr, ldy, bias, accumulate)
                case 2: panel(2, p, xr, ldx, yr, ldy, bias, accumulate)
                default: panel(1, p, xr, ldx, yr, ldy, bias, accumulate)
                }
            }
            r0 += n
        }
    }

    /// One panel (16 outputs) for `n` ≤ 5 rows: 2n SIMD8 accumulators stay in registers over
    /// all inputs. `n` is a literal at every call site, so each case compiles to its own loop.
    @inline(__always)
    private func panel(_ n: Int, _ p: Int, _ x: UnsafePointer<Float>, _ ldx: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
                       _ bias: UnsafePointer<Float>?, _ accumulate: Bool) {
        typealias V = SIMD8<Float>
        typealias H = SIMD8<Float16>
        let pw = Self.width, k = inputs
        let w = UnsafeRawPointer(storage + p * k * pw)
        let x0 = x, x1 = x + (n > 1 ? ldx : 0), x2 = x + (n > 2 ? 2 * ldx : 0)
        let x3 = x + (n > 3 ? 3 * ldx : 0), x4 = x + (n > 4 ? 4 * ldx : 0)
        var a0 = V(repeating: 0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0
        var j = 0
        while j < k {
            let wp = w + j * pw * 2
            let lo = V(wp.loadUnaligned(as: H.self)), hi = V((wp + 16).loadUnaligned(as: H.self))
            let s0 = V(repeating: x0[j]); a0.addProduct(s0, lo); b0.addProduct(s0, hi)
            if n > 1 { let s = V(repeating: x1[j]); a1.addProduct(s, lo); b1.addProduct(s, hi) }
            if n > 2 { let s = V(repeating: x2[j]); a2.addProduct(s, lo); b2.addProduct(s, hi) }
            if n > 3 { let s = V(repeating: x3[j]); a3.addProduct(s, lo); b3.addProduct(s, hi) }
            if n > 4 { let s = V(repeating: x4[j]); a4.addProduct(s, lo); b4.addProduct(s, hi) }
            j += 1
        }
        let o0 = p * pw, valid = Swift.min(pw, outputs - o0)
        store(a0, b0, y + o0, valid, bias.map { $0 + o0 }, accumulate)
        if n > 1 { store(a1, b1, y + ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
        if n > 2 { store(a2, b2, y + 2 * ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
        if n > 3 { store(a3, b3, y + 3 * ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
        if n > 4 { store(a4, b4, y + 4 * ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
    }

    @inline(__always)
    private func store(_ lo: SIMD8<Float>, _ hi: SIMD8<Float>, _ y: UnsafeMutablePointer<Float>, _ valid: Int,
                       _ bias: UnsafePointer<Float>?, _ accumulate: Bool) {
        typealias V = SIMD8<Float>
        if valid == Self.width {
            var l = lo, h = hi
            if let b = bias {
                l += UnsafeRawPointer(b).loadUnaligned(as: V.self)
                h += UnsafeRawPointer(b + 8).loadUnaligned(as: V.self)
            }
            if accumulate {
                l += UnsafeRawPointer(y).loadUnaligned(as: V.self)
                h += UnsafeRawPointer(y + 8).loadUnaligned(as: V.self)
            }
            UnsafeMutableRawPointer(y).storeBytes(of: l, as: V.self)
            UnsafeMutableRawPointer(y + 8).storeBytes(of: h, as: V.self)
        } else {
            for i in 0..<valid {
                var v = i < 8 ? lo[i] : hi[i - 8]
                if let b = bias { v += b[i] }
                if accumulate { v += y[i] }
                y[i] = v
            }
        }
    }
}
