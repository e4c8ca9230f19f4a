/// A tiny deterministic generator (SplitMix64) for mutation tests, so a failing iteration can be
/// replayed from its seed.
public struct TestRNG {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform-ish in `0..<n` (modulo; bias is irrelevant here); 0 when `n` ≤ 1.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}
