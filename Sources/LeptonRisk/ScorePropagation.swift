import Foundation
import LeptonEngine

/// Second-stage features: how risky the *neighbouring* transfers look.
///
/// Laundering rows come in groups (a pattern is several transfers among a few accounts within
/// days), so one transfer that looks ordinary on its own becomes suspicious when the other
/// transfers of its sender or receiver scored high. Given first-stage scores `s` of every
/// loaded transaction, each transaction `i: u → v` at time `t` gets, over the other transfers
/// of `u` and `v` within ±`windowDays` (at most 400 scanned per list):
///
/// - `stage1_score`: `s[i]` itself;
/// - `src_out_max`, `src_in_max`, `dst_out_max`, `dst_in_max`: the highest score among `u`'s
///   other outgoing, `u`'s incoming, `v`'s outgoing and `v`'s other incoming transfers (0 if none);
/// - `neighbour_max`, `neighbour_second`: the two highest of those scores over all four lists;
/// - `neighbour_mass`: the sum of those scores (how many risky transfers surround `i`);
/// - `two_hop_max`: the highest `neighbour_max`-style score one hop further: over the transfers
///   `j` adjacent to `i`, the highest score among `j`'s other endpoint's transfers (excluding
///   `i` and `j`), which links the two sides of a bipartite or a stack layer.
///
/// This is one round of message passing of scores along time-respecting neighbourhoods (edge
/// updates in the sense of Egressy et al. 2024) with a max / sum readout, fed to a second tree
/// model. Training must use out-of-fold first-stage scores so that a row's own label never
/// reaches its features.
public enum ScorePropagation {
    public static let names: [String] = [
        "stage1_score", "src_out_max", "src_in_max", "dst_out_max", "dst_in_max",
        "neighbour_max", "neighbour_second", "neighbour_mass", "two_hop_max",
    ]
    public static var count: Int { names.count }

    /// Computes the `[transactions, ScorePropagation.count]` matrix (row-major).
    /// - Parameters:
    ///   - t: the loaded transactions.
    ///   - index: per-account transaction lists of `t`.
    ///   - scores: first-stage score of every transaction of `t` `[t.count]`.
    ///   - windowDays: half-width of the time window.
    ///   - twoHop: also fill `two_hop_max` (the costliest column: about a third of the scoring
    ///     time on a million rows); left 0 otherwise.
    ///   - rows: the transactions whose aggregates are computed (all when nil; the scorer
    ///     takes chunks); the output has one row per element of `rows`.
    public static func compute(_ t: TransactionTable, index idx: AccountIndex, scores: [Float], windowDays: Int = 3,
                               twoHop: Bool = true, rows: Range<Int>? = nil) -> [Float] {
        let r = rows ?? 0..<t.count, P = count
        precondition(scores.count == t.count, "one score per transaction")
        guard !r.isEmpty else { return [] }
        let w = Int32(windowDays * 1440)
        let ctx = Context(t: t, idx: idx, scores: scores)
        return [Float](unsafeUninitializedCapacity: r.count * P) { buffer, filled in
            buffer.initialize(repeating: 0)
            nonisolated(unsafe) let out = buffer.baseAddress!
            // Pass 1: per-row maxima over the four adjacent lists.
            parallelChunks(r.count, grain: 4096) { lo, hi in ctx.oneHop(r.lowerBound + lo, r.lowerBound + hi, w, out + lo * P) }
            // Pass 2: two hops (reads only pass-1 scores, not pass-1 outputs).
            if twoHop { parallelChunks(r.count, grain: 4096) { lo, hi in ctx.twoHop(r.lowerBound + lo, r.lowerBound + hi, w, out + lo * P) } }
            filled = r.count * P
        }
    }

    /// Scores raised by the neighbours' risk: `1 − (1 − s)(1 − min(1, β·a))` with `a` the
    /// chosen column of `propagated` (a noisy-or, so scores stay in [0, 1] and an isolated
    /// transfer keeps its own score).
    /// - Parameters:
    ///   - scores: first-stage scores `[transactions]`.
    ///   - propagated: output of ``compute(_:index:scores:windowDays:)`` `[transactions, count]`.
    ///   - column: which aggregate (index into ``names``).
    ///   - weight: β ≥ 0.
    ///   - rows: the rows of `scores` that `propagated` holds (all when nil).
    public static func combine(scores: [Float], propagated: [Float], column: Int, weight: Float, rows: Range<Int>? = nil) -> [Float] {
        let P = count, r = rows ?? scores.indices
        return r.map { i in
            let a = min(1, weight * propagated[(i - r.lowerBound) * P + column])
            return 1 - (1 - scores[i]) * (1 - a)
        }
    }

    final class Context: @unchecked Sendable {
        let t: TransactionTable, idx: AccountIndex, scores: [Float]
        init(t: TransactionTable, idx: AccountIndex, scores: [Float]) { self.t = t; self.idx = idx; self.scores = scores }

        /// Highest score in `list[a..<b]` restricted to times within [t0, t1], skipping `skip`,
        /// plus the running top-2 and sum updated in place.
        @inline(__always)
        func scan(_ list: UnsafePointer<Int32>, _ lo: Int, _ hi: Int, _ time: UnsafePointer<Int32>, _ s: UnsafePointer<Float>,
                  _ t0: Int32, _ t1: Int32, skip: Int, top1: inout Float, top2: inout Float, mass: inout Float) -> Float {
            let a = AccountIndex.lowerBound(list, lo, hi, time, t0)
            let b = min(AccountIndex.lowerBound(list, lo, hi, time, t1 + 1), a + 400)
            var best: Float = 0
            for k in a..<b {
                let j = Int(list[k])
                if j == skip { continue }
                let v = s[j]
                best = max(best, v)
                mass += v
                if v > top1 { top2 = top1; top1 = v } else if v > top2 { top2 = v }
            }
            return best
        }

        /// Transaction times, scores, and the outgoing and incoming transfer lists, as raw pointers
        /// for the duration of `body` (bounds checks would block the hops' inner loops).
        @inline(__always)
        func withBuffers(_ body: (_ time: UnsafePointer<Int32>, _ s: UnsafePointer<Float>,
                                  _ og: UnsafePointer<Int32>, _ ic: UnsafePointer<Int32>) -> Void) {
            t.time.withUnsafeBufferPointer { tb in scores.withUnsafeBufferPointer { sb in
            idx.outgoing.withUnsafeBufferPointer { ob in idx.incoming.withUnsafeBufferPointer { ib in
                body(tb.baseAddress!, sb.baseAddress!, ob.baseAddress!, ib.baseAddress!)
            }}}}
        }

        /// Columns 0–7 of rows `lo..<hi`, row `lo` written at `out`.
        func oneHop(_ lo: Int, _ hi: Int, _ w: Int32, _ out: UnsafeMutablePointer<Float>) {
            let P = ScorePropagation.count
            withBuffers { time, s, og, ic in
                for i in lo..<hi {
                    let u = Int(t.src[i]), v = Int(t.dst[i]), ti = time[i]
                    var top1: Float = 0, top2: Float = 0, mass: Float = 0
                    let f = out + (i - lo) * P
                    f[0] = s[i]
                    f[1] = scan(og, Int(idx.outStart[u]), Int(idx.outStart[u + 1]), time, s, ti - w, ti + w, skip: i, top1: &top1, top2: &top2, mass: &mass)
                    f[2] = scan(ic, Int(idx.inStart[u]), Int(idx.inStart[u + 1]), time, s, ti - w, ti + w, skip: i, top1: &top1, top2: &top2, mass: &mass)
                    if u != v {
                        f[3] = scan(og, Int(idx.outStart[v]), Int(idx.outStart[v + 1]), time, s, ti - w, ti + w, skip: i, top1: &top1, top2: &top2, mass: &mass)
                        f[4] = scan(ic, Int(idx.inStart[v]), Int(idx.inStart[v + 1]), time, s, ti - w, ti + w, skip: i, top1: &top1, top2: &top2, mass: &mass)
                    } else {
                        f[3] = f[1]; f[4] = f[2]
                    }
                    f[5] = top1; f[6] = top2; f[7] = mass
                }
            }
        }

        /// Column 8 of rows `lo..<hi`, row `lo` written at `out`.
        func twoHop(_ lo: Int, _ hi: Int, _ w: Int32, _ out: UnsafeMutablePointer<Float>) {
            let P = ScorePropagation.count
            withBuffers { time, s, og, ic in
                for i in lo..<hi {
                    let u = Int(t.src[i]), v = Int(t.dst[i]), ti = time[i]
                    var best: Float = 0
                    // For each transfer j adjacent to i (sharing u or v) within the window, look at
                    // the transfers of j's other endpoint.
                    for q in 0..<(u == v ? 2 : 4) {
                        let acct = q < 2 ? u : v
                        let list = q & 1 == 0 ? og : ic
                        let s0 = Int(q & 1 == 0 ? idx.outStart[acct] : idx.inStart[acct])
                        let s1 = Int(q & 1 == 0 ? idx.outStart[acct + 1] : idx.inStart[acct + 1])
                        let a = AccountIndex.lowerBound(list, s0, s1, time, ti - w)
                        let b = min(AccountIndex.lowerBound(list, s0, s1, time, ti + w + 1), a + 60)
                        for k in a..<b {
                            let j = Int(list[k])
                            if j == i { continue }
                            let other = Int(t.src[j]) == acct ? Int(t.dst[j]) : Int(t.src[j])
                            if other == u || other == v { continue }
                            var d1: Float = 0, d2: Float = 0, dm: Float = 0
                            let x = scan(og, Int(idx.outStart[other]), Int(idx.outStart[other + 1]), time, s, ti - w, ti + w, skip: j, top1: &d1, top2: &d2, mass: &dm)
                            let y = scan(ic, Int(idx.inStart[other]), Int(idx.inStart[other + 1]), time, s, ti - w, ti + w, skip: j, top1: &d1, top2: &d2, mass: &dm)
                            best = max(best, max(x, y))
                        }
                    }
                    out[(i - lo) * P + 8] = best
                }
            }
        }
    }
}
