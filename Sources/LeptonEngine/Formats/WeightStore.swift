import Foundation

/// The element type a checkpoint stores a weight in. Raw values are the safetensors spellings.
public enum WeightDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// True for the integer and boolean types.
    public var isInteger: Bool { !(self == .f32 || self == .f16 || self == .bf16 || self == .f64) }
}

/// One weight as a checkpoint stores it: dtype, shape and little-endian bytes.
///
/// Bytes usually point into a memory-mapped file (no copy until ``floatTensor(scale:)``).
public struct WeightEntry: Sendable {
    public let dtype: WeightDType
    /// Extents, outermost first (`[]` for a scalar).
    public let shape: [Int]
    @usableFromInline let data: Data
    @usableFromInline let range: Range<Int>

    /// A weight over `bytes[range]`; the byte count must equal dtype size × element count.
    public init(dtype: WeightDType, shape: [Int], bytes: Data, range: Range<Int>? = nil) throws {
        let r = range ?? bytes.startIndex..<bytes.endIndex
        guard shape.allSatisfy({ $0 >= 0 }),
              let n = WeightEntry.elementCount(shape), n.multipliedReportingOverflow(by: dtype.byteSize).partialValue == r.count,
              !n.multipliedReportingOverflow(by: dtype.byteSize).overflow,
              r.lowerBound >= bytes.startIndex, r.upperBound <= bytes.endIndex else {
            throw WeightFormatError.invalidTensor(file: "(memory)", weight: "?",
                                                  reason: "\(r.count) bytes do not hold \(dtype.rawValue) \(shape)")
        }
        self.dtype = dtype; self.shape = shape; data = bytes; self.range = r
    }

    /// A Float32 weight holding `tensor`'s elements.
    public init(_ tensor: Tensor) {
        self.init(encoding: tensor, as: .f32)
    }

    /// A weight holding `tensor` rounded to `dtype` (F16/BF16 round to nearest even; integer types
    /// round to nearest and saturate; BOOL stores `x != 0`).
    public init(encoding tensor: Tensor, as dtype: WeightDType) {
        let n = tensor.count
        var bytes = Data(count: n * dtype.byteSize)
        bytes.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            tensor.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let d = raw.baseAddress else { return }
                switch dtype {
                case .f32: d.copyMemory(from: s, byteCount: n * 4)
                case .f16: HalfPrecision.floatToFloat16(s, count: n, into: d)
                case .bf16: HalfPrecision.floatToBFloat16(s, count: n, into: d)
                case .f64: for i in 0..<n { (d + 8 * i).storeBytes(of: Double(s[i]).bitPattern.littleEndian, as: UInt64.self) }
                case .i64: for i in 0..<n { (d + 8 * i).storeBytes(of: WeightEntry.saturate(s[i], Int64.self).littleEndian, as: Int64.self) }
                case .i32: for i in 0..<n { (d + 4 * i).storeBytes(of: WeightEntry.saturate(s[i], Int32.self).littleEndian, as: Int32.self) }
                case .i16: for i in 0..<n { (d + 2 * i).storeBytes(of: WeightEntry.saturate(s[i], Int16.self).littleEndian, as: Int16.self) }
                case .i8: for i in 0..<n { (d + i).storeBytes(of: WeightEntry.saturate(s[i], Int8.self), as: Int8.self) }
                case .u8: for i in 0..<n { (d + i).storeBytes(of: WeightEntry.saturate(s[i], UInt8.self), as: UInt8.self) }
                case .bool: for i in 0..<n { (d + i).storeBytes(of: s[i] != 0 ? 1 : 0, as: UInt8.self) }
                }
            }
        }
        self.dtype = dtype; shape = tensor.shape; data = bytes; range = 0..<bytes.count
    }

    static func saturate<I: FixedWidthInteger>(_ x: Float, _: I.Type) -> I {
        if x.isNaN { return 0 }
        let r = x.rounded(.toNearestOrEven)
        if r <= Float(I.min) { return I.min }
        if r >= Float(I.max) { return I.max }
        return I(r)
    }

    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for e in shape {
            guard e >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: e)
            if o { return nil }
            n = p
        }
        return n
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Stored size in bytes.
    public var byteCount: Int { range.count }

    /// Calls `body` with the stored little-endian bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[(range.lowerBound - data.startIndex)..<(range.upperBound - data.startIndex)]))
        }
    }

    /// The weight converted to a Float32 tensor of the same shape, each value times `scale`
    /// (`scale` is applied to every dtype; pass a quantisation scale for Int8 weights).
    ///
    /// Integers above 2^24 lose precision in Float32; use ``integers()`` for index tensors.
    public func floatTensor(scale: Float = 1) -> Tensor {
        let n = count
        var t = Tensor(shape: shape) { (out: UnsafeMutableBufferPointer<Float>) in
            withUnsafeBytes { raw in
                guard let s = raw.baseAddress, let d = out.baseAddress, n > 0 else { return }
                switch dtype {
                case .f32: UnsafeMutableRawPointer(d).copyMemory(from: s, byteCount: n * 4)
                case .f16: HalfPrecision.float16ToFloat(s, count: n, into: d)
                case .bf16: HalfPrecision.bfloat16ToFloat(s, count: n, into: d)
                case .i8: HalfPrecision.int8ToFloat(s, count: n, into: d)
                case .u8, .bool: HalfPrecision.uint8ToFloat(s, count: n, into: d)
                case .f64: for i in 0..<n { d[i] = Float(Double(bitPattern: UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                case .i64: for i in 0..<n { d[i] = Float(Int64(littleEndian: s.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                case .i32: for i in 0..<n { d[i] = Float(Int32(littleEndian: s.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
                case .i16: for i in 0..<n { d[i] = Float(Int16(littleEndian: s.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
                }
            }
        }
        if scale != 1 {
            t.withUnsafeMutableBufferPointer { b in
                guard let p = b.baseAddress else { return }
                for i in 0..<b.count { p[i] *= scale }
            }
        }
        return t
    }

    /// The elements as 64-bit integers (exact for every integer dtype; floats are truncated toward zero,
    /// NaN and out-of-range values become 0).
    public func integers() -> [Int64] {
        let n = count
        return withUnsafeBytes { raw -> [Int64] in
            guard let s = raw.baseAddress else { return [] }
            switch dtype {
            case .i64: return (0..<n).map { Int64(littleEndian: s.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            case .i32: return (0..<n).map { Int64(Int32(littleEndian: s.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case .i16: return (0..<n).map { Int64(Int16(littleEndian: s.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
            case .i8: return (0..<n).map { Int64(s.load(fromByteOffset: $0, as: Int8.self)) }
            case .u8, .bool: return (0..<n).map { Int64(s.load(fromByteOffset: $0, as: UInt8.self)) }
            default:
                return floatTensor().scalars.map { x in
                    guard x.isFinite, abs(x) < 9.2e18 else { return 0 }
                    return Int64(x)
                }
            }
        }
    }
}

/// A checkpoint's weights by name, loaded strictly: a model takes each weight it needs with the
/// shape it expects, then calls ``finish()``, which fails if any weight of the file was never taken.
///
/// ```swift
/// let store = try Safetensors.read(url)
/// let layer = store.scoped("encoder.layer.0.attention.self.")
/// let wq = try layer.take("query.weight", shape: [384, 384])   // Linear: [out, in]
/// try store.skip("embeddings.position_ids")                    // deliberately unused
/// try store.finish()
/// ```
///
/// A store is a reference to shared bookkeeping: scoped views and copies mark the same weights used.
public struct WeightStore: @unchecked Sendable {
    final class State {
        let source: String
        let entries: [String: WeightEntry]
        let metadata: [String: String]
        var used = Set<String>()
        let lock = NSLock()
        init(source: String, entries: [String: WeightEntry], metadata: [String: String]) {
            self.source = source; self.entries = entries; self.metadata = metadata
        }
    }

    let state: State
    /// Prepended to every name given to this view (see ``scoped(_:)``).
    public let prefix: String

    /// A store over `entries`; `source` names the file in error messages.
    public init(source: String, entries: [String: WeightEntry], metadata: [String: String] = [:]) {
        state = State(source: source, entries: entries, metadata: metadata)
        prefix = ""
    }

    private init(state: State, prefix: String) { self.state = state; self.prefix = prefix }

    /// The file (or other origin) the weights came from.
    public var source: String { state.source }
    /// Free-form metadata of the file (safetensors `__metadata__`).
    public var metadata: [String: String] { state.metadata }
    /// All weight names of the file, sorted (independent of the view's prefix).
    public var names: [String] { state.entries.keys.sorted() }
    /// The raw entry for `name` under this view's prefix, without marking it used.
    public func entry(_ name: String) -> WeightEntry? { state.entries[prefix + name] }
    /// True when the file has `name` under this view's prefix.
    public func contains(_ name: String) -> Bool { state.entries[prefix + name] != nil }

    /// A view whose names are relative to `prefix` (e.g. `"encoder.layer.3."`); shares the bookkeeping.
    public func scoped(_ prefix: String) -> WeightStore { WeightStore(state: state, prefix: self.prefix + prefix) }

    /// The raw entry for `name`, marked used; throws if it is missing.
    public func takeEntry(_ name: String) throws -> WeightEntry {
        let full = prefix + name
        guard let e = state.entries[full] else { throw WeightFormatError.missingWeight(file: source, weight: full) }
        if let i = e.firstNonFiniteIndex() { throw WeightFormatError.nonFinite(file: source, weight: full, index: i) }
        state.lock.lock(); state.used.insert(full); state.lock.unlock()
        return e
    }

    /// The weight `name` as Float32, marked used; throws if it is missing or its shape is not `shape`.
    ///
    /// - Parameter scale: multiplies every value (a dequantisation scale for Int8 weights).
    public func take(_ name: String, shape: [Int], scale: Float = 1) throws -> Tensor {
        let full = prefix + name
        guard let e = state.entries[full] else { throw WeightFormatError.missingWeight(file: source, weight: full) }
        guard e.shape == shape else {
            throw WeightFormatError.shapeMismatch(file: source, weight: full, expected: shape, found: e.shape)
        }
        if let i = e.firstNonFiniteIndex() { throw WeightFormatError.nonFinite(file: source, weight: full, index: i) }
        state.lock.lock(); state.used.insert(full); state.lock.unlock()
        return e.floatTensor(scale: scale)
    }

    /// The weight `name` as Float32 whatever its shape, marked used.
    public func take(_ name: String) throws -> Tensor {
        try takeEntry(name).floatTensor()
    }

    /// Like ``take(_:shape:scale:)`` but returns nil when the file has no such weight (optional biases).
    public func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        contains(name) ? try take(name, shape: shape) : nil
    }

    /// Marks `name` as deliberately unused (it must exist, so a typo is caught).
    public func skip(_ name: String) throws {
        _ = try takeEntry(name)
    }

    /// Marks every weight whose full name satisfies `predicate` as deliberately unused.
    public func skip(where predicate: (String) -> Bool) {
        let hits = state.entries.keys.filter(predicate)
        state.lock.lock(); state.used.formUnion(hits); state.lock.unlock()
    }

    /// Names of weights not taken or skipped yet, sorted.
    public var unusedNames: [String] {
        state.lock.lock(); defer { state.lock.unlock() }
        return state.entries.keys.filter { !state.used.contains($0) }.sorted()
    }

    /// Ends loading: throws ``WeightFormatError/unusedWeights(file:weights:)`` naming every weight
    /// that was neither taken nor skipped.
    public func finish() throws {
        let unused = unusedNames
        if !unused.isEmpty { throw WeightFormatError.unusedWeights(file: source, weights: unused) }
    }
}
