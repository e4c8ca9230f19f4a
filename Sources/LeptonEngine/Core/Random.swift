/// A small, fast, seedable generator (xoshiro256**), so training runs are reproducible with `--seed`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        // SplitMix64 expands the seed so that nearby seeds give unrelated streams.
        var x = seed
        func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (next(), next(), next(), next())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(nextUniform(), 1e-7), u2 = nextUniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

import Foundation

extension Tensor {
    /// Normal(0, std²) entries from `rng`.
    public static func randomNormal(_ shape: [Int], std: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { b in for i in b.indices { b[i] = rng.nextNormal() * std } }
    }

    /// Uniform entries in [low, high) from `rng`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { b in for i in b.indices { b[i] = low + (high - low) * rng.nextUniform() } }
    }
}
