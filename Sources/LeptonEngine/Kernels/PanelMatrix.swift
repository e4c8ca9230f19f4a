// A weight matrix laid out for products with a few activation rows (decoder steps, attention
// scores of a few queries).
//
// Why a panel layout: with one to five activation rows, `y = x Wᵀ` is bound by reading W.
// Row-major W forces a horizontal sum per output (dot products along a row); in panels of 16
// outputs × all inputs, 16 outputs sit side by side in two SIMD8 lanes, so each input column
// is one broadcast of x times two vectors of W, accumulated in registers with no reduction.
// The element type sets the bytes read per weight: float16 (as CTranslate2 checkpoints store
// it: exact; F16C's `vcvtph2ps` converts straight from memory), int8 with one scale per output
// (a quarter of float32's bytes; activations stay float32), or float32 (keys computed at run time).

/// How one element type of a ``PanelMatrix`` is packed and widened to `Float`.
public protocol PanelElement: Sendable {
    /// Whether each output carries a dequantisation scale (applied once to the finished sums).
    static var isScaled: Bool { get }
    /// Packs one output's weights `values[0..<count]` into `destination[j · stride]` and returns
    /// the output's scale (1 when not ``isScaled``).
    static func pack(_ values: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Self>, stride: Int) -> Float
    /// The 16 consecutive elements at `p` as floats (before the scale), lanes 0–7 and 8–15.
    static func widen16(_ p: UnsafePointer<Self>) -> (SIMD8<Float>, SIMD8<Float>)
}

extension Float: PanelElement {
    @inlinable public static var isScaled: Bool { false }
    @inlinable public static func pack(_ values: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Float>,
                                       stride: Int) -> Float {
        for j in 0..<count { destination[j * stride] = values[j] }
        return 1
    }
    @inlinable @inline(__always)
    public static func widen16(_ p: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        let r = UnsafeRawPointer(p)
        return (r.loadUnaligned(as: SIMD8<Float>.self), (r + 32).loadUnaligned(as: SIMD8<Float>.self))
    }
}

extension Float16: PanelElement {
    @inlinable public static var isScaled: Bool { false }
    /// Exact for values that came from float16 (a checkpoint's weights); others round to nearest.
    @inlinable public static func pack(_ values: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Float16>,
                                       stride: Int) -> Float {
        for j in 0..<count { destination[j * stride] = Float16(values[j]) }
        return 1
    }
    @inlinable @inline(__always)
    public static func widen16(_ p: UnsafePointer<Float16>) -> (SIMD8<Float>, SIMD8<Float>) {
        let r = UnsafeRawPointer(p)
        return (SIMD8<Float>(r.loadUnaligned(as: SIMD8<Float16>.self)), SIMD8<Float>((r + 16).loadUnaligned(as: SIMD8<Float16>.self)))
    }
}

extension Int8: PanelElement {
    @inlinable public static var isScaled: Bool { true }
    /// CTranslate2's `int8` rule: `q = round(w · 127 / max|w|)`, scale `max|w| / 127` (0 for a zero row).
    @inlinable public static func pack(_ values: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Int8>,
                                       stride: Int) -> Float {
        var peak: Float = 0
        for j in 0..<count { peak = Swift.max(peak, Swift.abs(values[j])) }
        let q = peak > 0 ? 127 / peak : 0
        for j in 0..<count { destination[j * stride] = Int8(Swift.max(-127, Swift.min(127, (values[j] * q).rounded()))) }
        return peak / 127
    }
    @inlinable @inline(__always)
    public static func widen16(_ p: UnsafePointer<Int8>) -> (SIMD8<Float>, SIMD8<Float>) {
        let r = UnsafeRawPointer(p)
        return (SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: r.loadUnaligned(as: SIMD8<Int8>.self))),
                SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: (r + 8).loadUnaligned(as: SIMD8<Int8>.self))))
    }
}

/// The memory of a ``PanelMatrix``: allocated once, immutable after packing, freed with the last copy.
@usableFromInline
final class PanelStorage<Element: PanelElement>: @unchecked Sendable {
    /// `[panels, inputs, 16]`.
    @usableFromInline let values: UnsafeMutablePointer<Element>
    /// `[panels · 16]` per-output scales (0 past `outputs`), or nil when `Element` is not scaled.
    @usableFromInline let scales: UnsafeMutablePointer<Float>?

    @usableFromInline init(values: Int, scales: Int?) {
        self.values = .allocate(capacity: values)
        self.scales = scales.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
    }

    deinit {
        values.deallocate()
        scales?.deallocate()
    }
}

/// A weight matrix `W [outputs, inputs]` stored as panels `[panels, inputs, 16]` of `Element`
/// (panel `p` holds outputs `16p ..< 16p+16`, the last one zero-padded), for `y = x Wᵀ` with a
/// few rows of `x`. A value: copies share the immutable storage, freed with the last one.
public struct PanelMatrix<Element: PanelElement>: Sendable {
    /// Outputs per panel.
    public static var width: Int { 16 }
    public let outputs: Int
    public let inputs: Int
    /// Number of panels: `ceil(outputs / 16)`.
    public let panels: Int
    @usableFromInline private(set) var storage: PanelStorage<Element>

    /// Packs a row-major `[outputs, inputs]` float matrix whose rows are `rowStride` apart.
    @inlinable
    public init(rowMajor w: UnsafePointer<Float>, outputs: Int, inputs: Int, rowStride: Int? = nil) {
        let stride = rowStride ?? inputs
        self.init(outputs: outputs, inputs: inputs) { o, row in row.update(from: w + o * stride, count: inputs) }
    }

    /// Packs a row-major `[outputs, inputs]` float16 matrix (a checkpoint's weights).
    @inlinable
    public init(rowMajor w: UnsafePointer<Float16>, outputs: Int, inputs: Int) {
        self.init(outputs: outputs, inputs: inputs) { o, row in
            let src = w + o * inputs
            for j in 0..<inputs { row[j] = Float(src[j]) }
        }
    }

    /// Packs the matrix whose row `o` `readRow(o, buffer)` writes into `buffer[0..<inputs]`.
    @inlinable
    init(outputs: Int, inputs: Int, readRow: (Int, UnsafeMutablePointer<Float>) -> Void) {
        precondition(outputs > 0 && inputs > 0)
        let pw = Self.width
        self.outputs = outputs
        self.inputs = inputs
        panels = (outputs + pw - 1) / pw
        storage = PanelStorage(values: panels * inputs * pw, scales: Element.isScaled ? panels * pw : nil)
        Self.pack(into: storage, outputs: outputs, inputs: inputs, readRow: readRow)
    }

    /// Packs new values of the same shape, from a row-major float matrix whose rows are `rowStride`
    /// apart: in place when no copy shares the storage, else into new storage (copy on write).
    /// For matrices rebuilt often, e.g. attention keys per audio window.
    @inlinable
    public mutating func repack(rowMajor w: UnsafePointer<Float>, rowStride: Int? = nil) {
        guard isKnownUniquelyReferenced(&storage) else {
            self = PanelMatrix(rowMajor: w, outputs: outputs, inputs: inputs, rowStride: rowStride)
            return
        }
        let stride = rowStride ?? inputs, inputs = inputs
        Self.pack(into: storage, outputs: outputs, inputs: inputs) { o, row in row.update(from: w + o * stride, count: inputs) }
    }

    @inlinable
    static func pack(into storage: PanelStorage<Element>, outputs: Int, inputs: Int, readRow: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let pw = width, panels = (outputs + pw - 1) / pw
        let values = storage.values, scales = storage.scales
        let row = UnsafeMutablePointer<Float>.allocate(capacity: inputs)
        defer { row.deallocate() }
        for o in 0..<(panels * pw) {
            let dst = values + (o / pw) * inputs * pw + o % pw
            if o < outputs { readRow(o, row) } else { row.update(repeating: 0, count: inputs) }
            let scale = Element.pack(row, count: inputs, into: dst, stride: pw)
            scales?[o] = o < outputs ? scale : 0
        }
    }

    /// Row `o` of W as floats, dequantised (e.g. an embedding lookup when W is a tied embedding table).
    /// - Parameter destination: `inputs` floats.
    @inlinable
    public func row(_ o: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(o >= 0 && o < outputs)
        let pw = Self.width
        let panel = UnsafePointer(storage.values + (o / pw) * inputs * pw), lane = o % pw
        let s = storage.scales?[o] ?? 1
        for j in 0..<inputs {
            let (lo, hi) = Element.widen16(panel + j * pw)
            destination[j] = (lane < 8 ? lo[lane] : hi[lane - 8]) * s
        }
    }

    /// `y[r, o] (+)= scale[o] · Σ_j x[r, j] · W[o, j] (+ bias[o])` for `r < rows` and the outputs
    /// of panels `panelRange` (single-threaded: callers split panel ranges over their workers).
    ///
    /// - Parameters:
    ///   - x: `[rows, inputs]` with row stride `ldx`.
    ///   - y: `[rows, outputs]` with row stride `ldy`; only the outputs of `panelRange` are written.
    ///   - bias: `[outputs]` added to every row, or nil.
    ///   - accumulate: add to `y` instead of overwriting it (residual connections).
    /// The sum over `j` runs in input order, one accumulator per output, so the result does not
    /// depend on how panels are split.
    @inlinable
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
    @inlinable @inline(__always)
    func panel(_ n: Int, _ p: Int, _ x: UnsafePointer<Float>, _ ldx: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
               _ bias: UnsafePointer<Float>?, _ accumulate: Bool) {
        typealias V = SIMD8<Float>
        let pw = Self.width, k = inputs
        let w = UnsafePointer(storage.values + p * k * pw)
        let x0 = x, x1 = x + (n > 1 ? ldx : 0), x2 = x + (n > 2 ? 2 * ldx : 0)
        let x3 = x + (n > 3 ? 3 * ldx : 0), x4 = x + (n > 4 ? 4 * ldx : 0)
        var a0 = V(repeating: 0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0
        var j = 0
        while j < k {
            let (lo, hi) = Element.widen16(w + j * pw)
            let s0 = V(repeating: x0[j]); a0.addProduct(s0, lo); b0.addProduct(s0, hi)
            if n > 1 { let s = V(repeating: x1[j]); a1.addProduct(s, lo); b1.addProduct(s, hi) }
            if n > 2 { let s = V(repeating: x2[j]); a2.addProduct(s, lo); b2.addProduct(s, hi) }
            if n > 3 { let s = V(repeating: x3[j]); a3.addProduct(s, lo); b3.addProduct(s, hi) }
            if n > 4 { let s = V(repeating: x4[j]); a4.addProduct(s, lo); b4.addProduct(s, hi) }
            j += 1
        }
        let o0 = p * pw, valid = Swift.min(pw, outputs - o0)
        if Element.isScaled, let scales = storage.scales {
            let sc = UnsafeRawPointer(scales + o0)
            let sLo = sc.loadUnaligned(as: V.self), sHi = (sc + 32).loadUnaligned(as: V.self)
            a0 *= sLo; b0 *= sHi; a1 *= sLo; b1 *= sHi; a2 *= sLo; b2 *= sHi
            a3 *= sLo; b3 *= sHi; a4 *= sLo; b4 *= sHi
        }
        let b = bias.map { $0 + o0 }
        Self.store(a0, b0, y + o0, valid, b, accumulate)
        if n > 1 { Self.store(a1, b1, y + ldy + o0, valid, b, accumulate) }
        if n > 2 { Self.store(a2, b2, y + 2 * ldy + o0, valid, b, accumulate) }
        if n > 3 { Self.store(a3, b3, y + 3 * ldy + o0, valid, b, accumulate) }
        if n > 4 { Self.store(a4, b4, y + 4 * ldy + o0, valid, b, accumulate) }
    }

    @inlinable @inline(__always)
    static func store(_ lo: SIMD8<Float>, _ hi: SIMD8<Float>, _ y: UnsafeMutablePointer<Float>, _ valid: Int,
                      _ bias: UnsafePointer<Float>?, _ accumulate: Bool) {
        typealias V = SIMD8<Float>
        if valid == width {
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
