/// Conversions between the storage types of checkpoint weights (Float16, BFloat16, Int8) and the
/// engine's Float32.
///
/// Sources are raw bytes because weights come straight out of a memory-mapped file, where a
/// tensor's offset need not be a multiple of its element size. Aligned sources take the fast path:
/// with `-target-cpu haswell` a plain `Float(h)` loop compiles to `vcvtph2ps` (8 values per
/// instruction). Unaligned sources are first copied in cache-sized chunks into an aligned scratch
/// buffer, which costs one extra `memcpy` of an L1-resident block.
public enum HalfPrecision {
    /// Elements per scratch chunk when a source is unaligned (16 KB of Float16: stays in L1).
    @usableFromInline static let chunk = 8192

    // MARK: To Float32

    /// Converts `count` IEEE half-precision values at `source` (any alignment) to Float32.
    @inlinable
    public static func float16ToFloat(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        if Int(bitPattern: source) % MemoryLayout<Float16>.alignment == 0 {
            float16ToFloatAligned(source.assumingMemoryBound(to: Float16.self), count: count, into: destination)
            return
        }
        let scratch = UnsafeMutablePointer<Float16>.allocate(capacity: Swift.min(count, chunk))
        defer { scratch.deallocate() }
        var done = 0
        while done < count {
            let n = Swift.min(chunk, count - done)
            UnsafeMutableRawPointer(scratch).copyMemory(from: source + done * 2, byteCount: n * 2)
            float16ToFloatAligned(scratch, count: n, into: destination + done)
            done += n
        }
    }

    /// The vectorising inner loop of ``float16ToFloat(_:count:into:)``.
    @inlinable
    public static func float16ToFloatAligned(_ source: UnsafePointer<Float16>, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for i in 0..<count { destination[i] = Float(source[i]) }
    }

    /// Converts `count` bfloat16 values at `source` (any alignment) to Float32.
    ///
    /// A bfloat16 is the upper 16 bits of a Float32, so conversion is a shift (exact, NaN kept).
    @inlinable
    public static func bfloat16ToFloat(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        if Int(bitPattern: source) % MemoryLayout<UInt16>.alignment == 0 {
            bfloat16ToFloatAligned(source.assumingMemoryBound(to: UInt16.self), count: count, into: destination)
            return
        }
        let scratch = UnsafeMutablePointer<UInt16>.allocate(capacity: Swift.min(count, chunk))
        defer { scratch.deallocate() }
        var done = 0
        while done < count {
            let n = Swift.min(chunk, count - done)
            UnsafeMutableRawPointer(scratch).copyMemory(from: source + done * 2, byteCount: n * 2)
            bfloat16ToFloatAligned(scratch, count: n, into: destination + done)
            done += n
        }
    }

    @inlinable
    public static func bfloat16ToFloatAligned(_ source: UnsafePointer<UInt16>, count: Int, into destination: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(destination).assumingMemoryBound(to: UInt32.self)
        for i in 0..<count { out[i] = UInt32(source[i]) &<< 16 }
    }

    /// Converts `count` signed bytes to Float32, multiplied by `scale` (1 for plain integers;
    /// the dequantisation scale for quantised weights).
    @inlinable
    public static func int8ToFloat(_ source: UnsafeRawPointer, count: Int, scale: Float = 1, into destination: UnsafeMutablePointer<Float>) {
        let s = source.assumingMemoryBound(to: Int8.self)   // Int8 has alignment 1
        for i in 0..<count { destination[i] = Float(s[i]) * scale }
    }

    /// Converts `count` unsigned bytes to Float32.
    @inlinable
    public static func uint8ToFloat(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        let s = source.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { destination[i] = Float(s[i]) }
    }

    // MARK: From Float32

    /// Rounds `count` Float32 values to IEEE half precision (round to nearest even), written as
    /// little-endian bytes at `destination` (any alignment).
    @inlinable
    public static func floatToFloat16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        let scratch = UnsafeMutablePointer<Float16>.allocate(capacity: Swift.max(1, Swift.min(count, chunk)))
        defer { scratch.deallocate() }
        var done = 0
        while done < count {
            let n = Swift.min(chunk, count - done)
            for i in 0..<n { scratch[i] = Float16(source[done + i]) }
            (destination + done * 2).copyMemory(from: scratch, byteCount: n * 2)
            done += n
        }
    }

    /// Rounds one Float32 to bfloat16 bits (round to nearest even; NaN stays a quiet NaN).
    @inlinable
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (b >> 16) | 0x0040) }
        let roundingBias: UInt32 = 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: (b &+ roundingBias) >> 16)
    }

    /// Rounds `count` Float32 values to bfloat16, written as little-endian bytes (any alignment).
    @inlinable
    public static func floatToBFloat16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        for i in 0..<count { (destination + i * 2).storeBytes(of: bfloat16Bits(source[i]).littleEndian, as: UInt16.self) }
    }
}
