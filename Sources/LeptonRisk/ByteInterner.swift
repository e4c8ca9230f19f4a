/// Maps byte strings (account keys, node ids) to dense Int32 ids with an open-addressing hash
/// table over one byte arena: no `String` is built per lookup, so a million rows intern fast.
public struct ByteInterner {
    private var arena: [UInt8] = []
    private var offsets: [Int32] = [0]
    private var table: [Int32]
    private var hashes: [UInt64] = []
    private var mask: Int

    public init(capacity: Int = 1024) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        table = [Int32](repeating: -1, count: n)
        mask = n - 1
    }

    /// Number of distinct keys.
    public var count: Int { offsets.count - 1 }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
        return h ^ (h >> 29)
    }

    /// The id of the key, inserting it when new.
    public mutating func intern(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let h = Self.hash(p, n)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = table[slot]
            if id < 0 { break }
            if hashes[Int(id)] == h && equal(Int(id), p, n) { return id }
            slot = (slot + 1) & mask
        }
        let id = Int32(count)
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        offsets.append(Int32(arena.count))
        hashes.append(h)
        table[slot] = id
        if count * 2 > table.count { grow() }
        return id
    }

    /// The id of the key, or nil when absent.
    public func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        let h = Self.hash(p, n)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = table[slot]
            if id < 0 { return nil }
            if hashes[Int(id)] == h && equal(Int(id), p, n) { return id }
            slot = (slot + 1) & mask
        }
    }

    public mutating func intern(_ s: String) -> Int32 {
        var s = s
        return s.withUTF8 { intern($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
    }

    public func lookup(_ s: String) -> Int32? {
        var s = s
        return s.withUTF8 { lookup($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
    }

    /// The key of `id` as a string.
    public func key(_ id: Int) -> String {
        let lo = Int(offsets[id]), hi = Int(offsets[id + 1])
        return String(decoding: arena[lo..<hi], as: UTF8.self)
    }

    private func equal(_ id: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let lo = Int(offsets[id]), hi = Int(offsets[id + 1])
        if hi - lo != n { return false }
        return arena.withUnsafeBufferPointer { a in
            for i in 0..<n where a[lo + i] != p[i] { return false }
            return true
        }
    }

    private mutating func grow() {
        let n = table.count * 2
        table = [Int32](repeating: -1, count: n)
        mask = n - 1
        for id in 0..<count {
            var slot = Int(truncatingIfNeeded: hashes[id]) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(id)
        }
    }
}
