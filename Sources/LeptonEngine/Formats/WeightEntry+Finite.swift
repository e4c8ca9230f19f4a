import Foundation

// A weight file whose floats hold NaN or ±inf loads without complaint and then makes every
// answer NaN (a `-nan` confidence printed with exit 0). Loaders check every float weight once,
// when it is taken, and name the first bad element.

extension WeightEntry {
    /// The flat index of the first NaN or ±inf element, or nil when all are finite (and always
    /// nil for integer dtypes, which cannot hold either).
    public func firstNonFiniteIndex() -> Int? {
        let n = count
        return withUnsafeBytes { raw -> Int? in
            guard let p = raw.baseAddress, n > 0 else { return nil }
            switch dtype {
            case .f32:
                // Exponent bits all ones ⇔ NaN or inf; read as integers (no unaligned Float loads).
                for i in 0..<n where UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) & 0x7F80_0000 == 0x7F80_0000 { return i }
            case .f16:
                for i in 0..<n where UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & 0x7C00 == 0x7C00 { return i }
            case .bf16:
                for i in 0..<n where UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & 0x7F80 == 0x7F80 { return i }
            case .f64:
                for i in 0..<n where UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000 { return i }
            case .i64, .i32, .i16, .i8, .u8, .bool:
                return nil
            }
            return nil
        }
    }
}

/// The flat index of the first NaN or ±inf among `count` floats at `p`, or nil.
public func firstNonFiniteIndex(_ p: UnsafePointer<Float>, count: Int) -> Int? {
    for i in 0..<count where !p[i].isFinite { return i }
    return nil
}
