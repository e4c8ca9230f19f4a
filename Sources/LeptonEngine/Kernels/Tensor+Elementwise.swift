import Foundation

// Elementwise kernels: binary ops with NumPy-style broadcasting and the unary activations.
//
// Every kernel is a tight loop over raw pointers; the operation is a static function of a
// small protocol so the generic loop specialises into one vectorisable loop per op (a closure
// in the inner loop would block that; see ../shared/specs/swift-performance.md).

// MARK: - Operation tags

@usableFromInline protocol BinaryFn { static func apply(_ a: Float, _ b: Float) -> Float }
@usableFromInline enum AddFn: BinaryFn { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
@usableFromInline enum SubFn: BinaryFn { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
@usableFromInline enum MulFn: BinaryFn { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
@usableFromInline enum DivFn: BinaryFn { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }
@usableFromInline enum MaxFn: BinaryFn { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a > b ? a : b } }
@usableFromInline enum MinFn: BinaryFn { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a < b ? a : b } }

// MARK: - Broadcasting

/// The NumPy broadcast of two shapes (axes aligned from the right; an extent of 1 stretches),
/// or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let x = i < r - a.count ? 1 : a[i - (r - a.count)]
        let y = i < r - b.count ? 1 : b[i - (r - b.count)]
        if x == y || y == 1 { out[i] = x } else if x == 1 { out[i] = y } else { return nil }
    }
    return out
}

/// Element strides of `shape` viewed as `outShape` (0 on broadcast axes).
@usableFromInline
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let r = outShape.count, pad = r - shape.count
    var strides = [Int](repeating: 0, count: r)
    var acc = 1
    for i in stride(from: r - 1, through: pad, by: -1) {
        let n = shape[i - pad]
        strides[i] = n == 1 ? 0 : acc
        acc *= n
    }
    return strides
}

/// One contiguous run: `out[i] = F(a[i*sa], b[i*sb])` with strides 0 or 1 (four vectorisable cases).
@inline(__always)
func binaryRun<F: BinaryFn>(_: F.Type, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                            _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    if sa == 1 && sb == 1 {
        for i in 0..<n { out[i] = F.apply(a[i], b[i]) }
    } else if sa == 0 && sb == 1 {
        let s = a[0]; for i in 0..<n { out[i] = F.apply(s, b[i]) }
    } else if sa == 1 && sb == 0 {
        let s = b[0]; for i in 0..<n { out[i] = F.apply(a[i], s) }
    } else if sa == 0 && sb == 0 {
        let v = F.apply(a[0], b[0]); for i in 0..<n { out[i] = v }
    } else {
        for i in 0..<n { out[i] = F.apply(a[i * sa], b[i * sb]) }
    }
}

@inline(__always)
func broadcastBinary<F: BinaryFn>(_ f: F.Type, _ x: Tensor, _ y: Tensor) -> Tensor {
    if x.shape == y.shape {
        let n = x.count
        return Tensor(shape: x.shape) { o in
            x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in
                nonisolated(unsafe) let (pa, pb, po) = (a.baseAddress!, b.baseAddress!, o.baseAddress!)
                parallelChunks(n, grain: 1 << 16) { lo, hi in binaryRun(f, pa + lo, 1, pb + lo, 1, po + lo, hi - lo) }
            } }
        }
    }
    guard let outShape = broadcastShape(x.shape, y.shape) else {
        preconditionFailure("cannot broadcast \(x.shape) with \(y.shape)")
    }
    let sx = broadcastStrides(x.shape, to: outShape), sy = broadcastStrides(y.shape, to: outShape)
    let r = outShape.count
    return Tensor(shape: outShape) { o in
        guard o.count > 0 else { return }
        x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in
            let pa = a.baseAddress!, pb = b.baseAddress!, po = o.baseAddress!
            if r == 0 { po[0] = F.apply(pa[0], pb[0]); return }
            // Inner run = last axis; walk the outer axes with an odometer.
            let inner = outShape[r - 1], ia = sx[r - 1], ib = sy[r - 1]
            let outer = o.count / max(inner, 1)
            var idx = [Int](repeating: 0, count: r)
            var offA = 0, offB = 0
            for row in 0..<outer {
                binaryRun(f, pa + offA, ia, pb + offB, ib, po + row * inner, inner)
                var ax = r - 2
                while ax >= 0 {
                    idx[ax] += 1; offA += sx[ax]; offB += sy[ax]
                    if idx[ax] < outShape[ax] { break }
                    offA -= sx[ax] * idx[ax]; offB -= sy[ax] * idx[ax]; idx[ax] = 0
                    ax -= 1
                }
            }
        } }
    }
}

extension Tensor {
    /// Elementwise sum with broadcasting (e.g. `[n, d] + [d]`, `[n, d] + [n, 1]`, tensor + scalar tensor).
    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(AddFn.self, a, b) }
    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(SubFn.self, a, b) }
    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(MulFn.self, a, b) }
    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(DivFn.self, a, b) }

    public static func + (a: Tensor, s: Float) -> Tensor { broadcastBinary(AddFn.self, a, Tensor(scalar: s)) }
    public static func - (a: Tensor, s: Float) -> Tensor { broadcastBinary(SubFn.self, a, Tensor(scalar: s)) }
    public static func * (a: Tensor, s: Float) -> Tensor { broadcastBinary(MulFn.self, a, Tensor(scalar: s)) }
    public static func / (a: Tensor, s: Float) -> Tensor { broadcastBinary(DivFn.self, a, Tensor(scalar: s)) }
    public static func + (s: Float, a: Tensor) -> Tensor { broadcastBinary(AddFn.self, Tensor(scalar: s), a) }
    public static func - (s: Float, a: Tensor) -> Tensor { broadcastBinary(SubFn.self, Tensor(scalar: s), a) }
    public static func * (s: Float, a: Tensor) -> Tensor { broadcastBinary(MulFn.self, Tensor(scalar: s), a) }
    public static func / (s: Float, a: Tensor) -> Tensor { broadcastBinary(DivFn.self, Tensor(scalar: s), a) }
    public static prefix func - (a: Tensor) -> Tensor { a * -1 }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }

    /// Elementwise maximum with broadcasting.
    public func maximum(_ other: Tensor) -> Tensor { broadcastBinary(MaxFn.self, self, other) }
    /// Elementwise minimum with broadcasting.
    public func minimum(_ other: Tensor) -> Tensor { broadcastBinary(MinFn.self, self, other) }

    /// Sums broadcast axes away so the result has `target` shape (the adjoint of broadcasting).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let pad = rank - target.count
        precondition(pad >= 0, "cannot reduce \(shape) to \(target)")
        var t = self
        // Leading extra axes: fold them into one and sum it.
        if pad > 0 { t = t.reshaped([shape.prefix(pad).reduce(1, *)] + Array(shape.suffix(target.count))).sum(axis: 0) }
        for (i, n) in target.enumerated() where n == 1 && t.shape[i] != 1 { t = t.sum(axis: i, keepingAxis: true) }
        precondition(t.shape == target, "cannot reduce \(shape) to \(target)")
        return t
    }

    /// `self + alpha * other` in place for same-shaped tensors (gradient accumulation, optimizer updates).
    public mutating func addScaled(_ other: Tensor, alpha: Float = 1) {
        precondition(shape == other.shape || count == other.count, "addScaled: \(shape) vs \(other.shape)")
        let n = count
        withUnsafeMutableBufferPointer { d in other.withUnsafeBufferPointer { s in
            let pd = d.baseAddress!, ps = s.baseAddress!
            if alpha == 1 { for i in 0..<n { pd[i] += ps[i] } } else { for i in 0..<n { pd[i] += alpha * ps[i] } }
        } }
    }
}

// MARK: - Unary operations

@usableFromInline protocol UnaryFn { static func apply(_ x: Float) -> Float }
enum ReluFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { x > 0 ? x : 0 } }
enum SigmoidFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { 1 / (1 + expf(-x)) } }
enum TanhFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { tanhf(x) } }
enum ExpFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { expf(x) } }
enum LogFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { logf(x) } }
enum SqrtFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { x.squareRoot() } }
enum AbsFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { abs(x) } }
enum SquareFn: UnaryFn { @inline(__always) static func apply(_ x: Float) -> Float { x * x } }
enum GeluTanhFn: UnaryFn {
    @inline(__always) static func apply(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    }
}

@inline(__always)
func mapUnary<F: UnaryFn>(_: F.Type, _ x: Tensor) -> Tensor {
    let n = x.count
    return Tensor(shape: x.shape) { o in
        x.withUnsafeBufferPointer { a in
            nonisolated(unsafe) let (pa, po) = (a.baseAddress!, o.baseAddress!)
            // Transcendentals cost ~10-20 ns each: split across cores from a few thousand elements.
            parallelChunks(n, grain: 1 << 14) { lo, hi in for i in lo..<hi { po[i] = F.apply(pa[i]) } }
        }
    }
}

extension Tensor {
    /// max(x, 0).
    public func relu() -> Tensor { mapUnary(ReluFn.self, self) }
    /// GELU, exact form `x · Φ(x) = x/2 · (1 + erf(x/√2))` (as PyTorch `gelu`, BERT, Whisper), through
    /// ``VectorMath/gelu8(_:)`` (its error bound applies).
    public func gelu() -> Tensor {
        let n = count
        return Tensor(shape: shape) { o in
            withUnsafeBufferPointer { a in
                nonisolated(unsafe) let (pa, po) = (a.baseAddress!, o.baseAddress!)
                parallelChunks(n, grain: 1 << 14) { lo, hi in VectorMath.gelu(pa + lo, into: po + lo, count: hi - lo) }
            }
        }
    }
    /// GELU, tanh approximation (PyTorch `gelu(approximate="tanh")`).
    public func geluTanh() -> Tensor { mapUnary(GeluTanhFn.self, self) }
    /// 1 / (1 + e^-x).
    public func sigmoid() -> Tensor { mapUnary(SigmoidFn.self, self) }
    public func tanh() -> Tensor { mapUnary(TanhFn.self, self) }
    public func exp() -> Tensor { mapUnary(ExpFn.self, self) }
    /// Natural logarithm.
    public func log() -> Tensor { mapUnary(LogFn.self, self) }
    public func sqrt() -> Tensor { mapUnary(SqrtFn.self, self) }
    public func abs() -> Tensor { mapUnary(AbsFn.self, self) }
    public func squared() -> Tensor { mapUnary(SquareFn.self, self) }

    /// Clamps every element into `[low, high]`.
    public func clamped(_ low: Float, _ high: Float) -> Tensor {
        let n = count
        return Tensor(shape: shape) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for i in 0..<n { po[i] = Swift.min(Swift.max(pa[i], low), high) }
            }
        }
    }
}
