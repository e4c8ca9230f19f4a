// Int8 weights with one scale per output row (CTranslate2's `int8` rule), in the same panel
// layout as `HalfPanelMatrix`: a quarter of float32's bytes for the read-bound few-row products
// of decoding. Activations stay float32 (weight-only quantisation); the per-output scale is
// applied once to the finished sums, as it is a per-lane factor of the panel.

/// A weight matrix `W [outputs, inputs]` quantised to int8 per output row
/// (`q = round(w · 127 / max|w_row|)`, `w ≈ q · scale`), stored as panels `[panels, inputs, 16]`.
///
/// Owns its storage: call ``deallocate()`` once when done.
public struct Int8PanelMatrix: @unchecked Sendable {
    public static let width = 16
    public let outputs: Int
    public let inputs: Int
    public let panels: Int
    /// `[panels, inputs, 16]` int8.
    public let storage: UnsafeMutablePointer<Int8>
    /// `[panels · 16]`: dequantisation scale per output (`max|w_row| / 127`; 0 past `outputs`).
    public let scales: UnsafeMutablePointer<Float>

    /// Quantises a row-major `[outputs, inputs]` float16 matrix.
    public init(rowMajor w: UnsafePointer<Float16>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0)
        let pw = Self.width
        self.outputs = outputs
        self.inputs = inputs
        panels = (outputs + pw - 1) / pw
        storage = .allocate(capacity: panels * inputs * pw)
        scales = .allocate(capacity: panels * pw)
        for p in 0..<panels {
            let dst = storage + p * inputs * pw
            for lane in 0..<pw {
                let o = p * pw + lane
                guard o < outputs else {
                    scales[o] = 0
                    for j in 0..<inputs { dst[j * pw + lane] = 0 }
                    continue
                }
                let src = w + o * inputs
                var peak: Float = 0
                for j in 0..<inputs { peak = Swift.max(peak, abs(Float(src[j]))) }
                let q = peak > 0 ? 127 / peak : 0
                scales[o] = peak / 127
                for j in 0..<inputs { dst[j * pw + lane] = Int8(Swift.max(-127, Swift.min(127, (Float(src[j]) * q).rounded()))) }
            }
        }
    }

    public func deallocate() { storage.deallocate(); scales.deallocate() }

    /// Row `o` of W, dequantised.
    public func row(_ o: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(o >= 0 && o < outputs)
        let pw = Self.width
        let src = storage + (o / pw) * inputs * pw + o % pw
        let s = scales[o]
        for j in 0..<inputs { destination[j] = Float(src[j * pw]) * s }
    }

    /// `y[r, o] (+)= scale[o] · Σ_j x[r, j] · q[o, j] (+ bias[o])`; same contract as
    /// ``HalfPanelMatrix/multiply(_:rows:ldx:panelRange:into:ldy:bias:accumulate:)``.
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

    @inline(__always)
    private func panel(_ n: Int, _ p: Int, _ x: UnsafePointer<Float>, _ ldx: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
                       _ bias: UnsafePointer<Float>?, _ accumulate: Bool) {
        typealias V = SIMD8<Float>
        typealias Q = SIMD8<Int8>
        let pw = Self.width, k = inputs
        let w = UnsafeRawPointer(storage + p * k * pw)
        let x0 = x, x1 = x + (n > 1 ? ldx : 0), x2 = x + (n > 2 ? 2 * ldx : 0)
        let x3 = x + (n > 3 ? 3 * ldx : 0), x4 = x + (n > 4 ? 4 * ldx : 0)
        var a0 = V(repeating: 0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0
        var j = 0
        while j < k {
            let wp = w + j * pw
            let lo = V(SIMD8<Int32>(truncatingIfNeeded: wp.loadUnaligned(as: Q.self)))
            let hi = V(SIMD8<Int32>(truncatingIfNeeded: (wp + 8).loadUnaligned(as: Q.self)))
            let s0 = V(repeating: x0[j]); a0.addProduct(s0, lo); b0.addProduct(s0, hi)
            if n > 1 { let s = V(repeating: x1[j]); a1.addProduct(s, lo); b1.addProduct(s, hi) }
            if n > 2 { let s = V(repeating: x2[j]); a2.addProduct(s, lo); b2.addProduct(s, hi) }
            if n > 3 { let s = V(repeating: x3[j]); a3.addProduct(s, lo); b3.addProduct(s, hi) }
            if n > 4 { let s = V(repeating: x4[j]); a4.addProduct(s, lo); b4.addProduct(s, hi) }
            j += 1
        }
        let o0 = p * pw, valid = Swift.min(pw, outputs - o0)
        let sc = UnsafeRawPointer(scales + o0)
        let sLo = sc.loadUnaligned(as: V.self), sHi = (sc + 32).loadUnaligned(as: V.self)
        store(a0 * sLo, b0 * sHi, y + o0, valid, bias.map { $0 + o0 }, accumulate)
        if n > 1 { store(a1 * sLo, b1 * sHi, y + ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
        if n > 2 { store(a2 * sLo, b2 * sHi, y + 2 * ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
        if n > 3 { store(a3 * sLo, b3 * sHi, y + 3 * ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
        if n > 4 { store(a4 * sLo, b4 * sHi, y + 4 * ldy + o0, valid, bias.map { $0 + o0 }, accumulate) }
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

/// Few-row decoder weights in either panel format: float16 (exact) or int8 with per-row scales.
public enum PanelMatrix: @unchecked Sendable {
    case half(HalfPanelMatrix)
    case int8(Int8PanelMatrix)

    public var outputs: Int { switch self { case .half(let m): m.outputs; case .int8(let m): m.outputs } }
    public var inputs: Int { switch self { case .half(let m): m.inputs; case .int8(let m): m.inputs } }
    public var panels: Int { switch self { case .half(let m): m.panels; case .int8(let m): m.panels } }

    public func deallocate() { switch self { case .half(let m): m.deallocate(); case .int8(let m): m.deallocate() } }

    public func row(_ o: Int, into destination: UnsafeMutablePointer<Float>) {
        switch self { case .half(let m): m.row(o, into: destination); case .int8(let m): m.row(o, into: destination) }
    }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, panelRange: Range<Int>,
                         into y: UnsafeMutablePointer<Float>, ldy: Int, bias: UnsafePointer<Float>?, accumulate: Bool) {
        switch self {
        case .half(let m):
            m.multiply(x, rows: rows, ldx: ldx, panelRange: panelRange, into: y, ldy: ldy, bias: bias, accumulate: accumulate)
        case .int8(let m):
            m.multiply(x, rows: rows, ldx: ldx, panelRange: panelRange, into: y, ldy: ldy, bias: bias, accumulate: accumulate)
        }
    }
}
