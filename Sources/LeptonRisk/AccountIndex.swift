/// Per-account transaction lists sorted by time (CSR layout): `outgoing` and `incoming` hold
/// transaction indices; account `a`'s outgoing transfers are `outgoing[outStart[a]..<outStart[a+1]]`.
public struct AccountIndex {
    public let outStart: [Int32]
    public let outgoing: [Int32]
    public let inStart: [Int32]
    public let incoming: [Int32]

    public init(_ t: TransactionTable) {
        let n = t.accountCount, m = t.count
        (outStart, outgoing) = Self.build(n: n, m: m, owner: t.src, time: t.time)
        (inStart, incoming) = Self.build(n: n, m: m, owner: t.dst, time: t.time)
    }

    /// Counting sort by owner, then by (time, index) within each owner.
    static func build(n: Int, m: Int, owner: [Int32], time: [Int32]) -> ([Int32], [Int32]) {
        var start = [Int32](repeating: 0, count: n + 1)
        for o in owner { start[Int(o) + 1] += 1 }
        for a in 0..<n { start[a + 1] += start[a] }
        var fill = start
        var list = [Int32](repeating: 0, count: m)
        for i in 0..<m { let o = Int(owner[i]); list[Int(fill[o])] = Int32(i); fill[o] += 1 }
        for a in 0..<n {
            let lo = Int(start[a]), hi = Int(start[a + 1])
            if hi - lo > 1 {
                var sorted = true
                for k in (lo + 1)..<hi where time[Int(list[k])] < time[Int(list[k - 1])] { sorted = false; break }
                if !sorted { list[lo..<hi].sort { (time[Int($0)], $0) < (time[Int($1)], $1) } }
            }
        }
        return (start, list)
    }

    /// First position in `list[lo..<hi]` whose transaction time is ≥ `t` (binary search).
    @inline(__always)
    static func lowerBound(_ list: UnsafePointer<Int32>, _ lo: Int, _ hi: Int, _ time: UnsafePointer<Int32>, _ t: Int32) -> Int {
        var l = lo, h = hi
        while l < h {
            let mid = (l + h) >> 1
            if time[Int(list[mid])] < t { l = mid + 1 } else { h = mid }
        }
        return l
    }
}
