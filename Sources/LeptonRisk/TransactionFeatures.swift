import Foundation
import LeptonEngine

/// Hand-made features for every transaction: the transfer itself, the history of both accounts,
/// bursts of fan-in / fan-out in time windows, pass-through (money in, similar money out soon
/// after), repeated pairs, round trips and time-respecting cycles back to the sender.
///
/// Features look at the whole loaded window (past and future rows in the given files), as a
/// batch scorer does; pass earlier files as history to score new rows incrementally.
public enum TransactionFeatures {
    /// Feature names, in column order.
    public static let names: [String] = [
        "log_amount_usd", "currency_mismatch",
        "format_ach", "format_bitcoin", "format_cash", "format_cheque", "format_credit_card", "format_reinvestment", "format_wire",
        "cross_bank", "self_transfer", "hour_of_day", "round_amount", "pay_usd",
        "src_out_14d", "src_in_14d", "src_out_partners_14d", "src_in_partners_14d", "amount_vs_src_usual",
        "dst_out_14d", "dst_in_14d", "dst_out_partners_14d", "dst_in_partners_14d", "amount_vs_dst_usual",
        "pair_count", "reverse_pair_count",
        "src_out_burst_2d", "dst_in_burst_2d", "src_in_before_4d", "dst_out_after_4d",
        "dst_passthrough_match", "src_passthrough_match",
        "cycle_back_to_src", "cycle_length", "forward_reach_5d",
        "src_out_partners_2d", "dst_in_partners_2d",
        "src_format_share", "dst_in_cross_bank_share", "src_in_out_ratio_14d", "dst_in_out_ratio_14d",
        "src_daily_rate", "dst_daily_rate",
        "src_activity_share_2d",
    ]
    public static var count: Int { names.count }

    static let day: Int32 = 1440

    /// Computes the `[transactions, features]` matrix (row-major) of every row (training; the
    /// scorer takes chunks of rows from a ``Computer`` instead).
    public static func compute(_ t: TransactionTable, index: AccountIndex? = nil) -> [Float] {
        Computer(t, index: index).rows(0..<t.count)
    }

    /// The account aggregates and transaction lists that features are computed from, built once
    /// per table; then any rows' features (a chunk, or one alert's again) cost only their own
    /// work, so the scorer never holds the `[transactions, features]` matrix of a large file.
    ///
    /// Immutable after `init`: chunks may be computed from several threads.
    public final class Computer: @unchecked Sendable {
        public let table: TransactionTable
        public let index: AccountIndex
        /// The table's USD amounts (shared, not copied) and their `log1p`.
        let usd: [Float], logAmt: [Float]
        let outPartners: [Float], inPartners: [Float], meanLogOut: [Float], meanLogIn: [Float]
        let sumOut: [Float], sumIn: [Float], activeDays: [Float], inCrossShare: [Float]
        /// Transfers `src → dst` and `dst → src` in the whole table, per row (two arrays instead of
        /// a pair dictionary: 8 bytes a row instead of about 24 a distinct pair).
        let pairCount: [Int32], reversePairCount: [Int32]
        /// Days between the table's first and last timestamp (at least one minute).
        let spanDays: Float

        public init(_ t: TransactionTable, index: AccountIndex? = nil) {
            let m = t.count, n = t.accountCount
            let idx = index ?? AccountIndex(t)
            table = t; self.index = idx
            let usd = t.amountUSD
            let logAmt = usd.map { logf(1 + $0) }
            self.usd = usd; self.logAmt = logAmt
            var outPartners = [Float](repeating: 0, count: n), inPartners = [Float](repeating: 0, count: n)
            var meanLogOut = [Float](repeating: 0, count: n), meanLogIn = [Float](repeating: 0, count: n)
            var sumOut = [Float](repeating: 0, count: n), sumIn = [Float](repeating: 0, count: n)
            var activeDays = [Float](repeating: 0, count: n), inCrossShare = [Float](repeating: 0, count: n)
            var stamp = [Int32](repeating: -1, count: n)
            // Transfers to each receiver of the current account (valid where `stamp` is the account).
            var tally = [Int32](repeating: 0, count: n)
            var pairCount = [Int32](repeating: 0, count: m), reversePairCount = [Int32](repeating: 0, count: m)
            for a in 0..<n {
                var distinct = 0; var s: Float = 0; var tot: Float = 0
                let lo = Int(idx.outStart[a]), hi = Int(idx.outStart[a + 1])
                for k in lo..<hi {
                    let i = Int(idx.outgoing[k]); let d = Int(t.dst[i])
                    if stamp[d] != Int32(a) { stamp[d] = Int32(a); distinct += 1; tally[d] = 0 }
                    tally[d] += 1
                    s += logAmt[i]; tot += usd[i]
                }
                for k in lo..<hi { let i = Int(idx.outgoing[k]); pairCount[i] = tally[Int(t.dst[i])] }
                // A transfer w → a is reversed by the transfers a → w just counted.
                for k in Int(idx.inStart[a])..<Int(idx.inStart[a + 1]) {
                    let i = Int(idx.incoming[k]); let w = Int(t.src[i])
                    reversePairCount[i] = stamp[w] == Int32(a) ? tally[w] : 0
                }
                outPartners[a] = Float(distinct); meanLogOut[a] = hi > lo ? s / Float(hi - lo) : 0; sumOut[a] = tot
            }
            stamp = [Int32](repeating: -1, count: n)
            for a in 0..<n {
                var distinct = 0; var s: Float = 0; var tot: Float = 0; var cross = 0
                let lo = Int(idx.inStart[a]), hi = Int(idx.inStart[a + 1])
                for k in lo..<hi {
                    let i = Int(idx.incoming[k]); let u = Int(t.src[i])
                    if stamp[u] != Int32(a) { stamp[u] = Int32(a); distinct += 1 }
                    s += logAmt[i]; tot += usd[i]
                    if t.bankOfAccount[u] != t.bankOfAccount[a] { cross += 1 }
                }
                inPartners[a] = Float(distinct); meanLogIn[a] = hi > lo ? s / Float(hi - lo) : 0; sumIn[a] = tot
                inCrossShare[a] = hi > lo ? Float(cross) / Float(hi - lo) : 0
            }
            var dayStamp = [Int32: Int32]()
            for a in 0..<n {
                dayStamp.removeAll(keepingCapacity: true)
                for k in Int(idx.outStart[a])..<Int(idx.outStart[a + 1]) { dayStamp[t.time[Int(idx.outgoing[k])] / day] = 1 }
                for k in Int(idx.inStart[a])..<Int(idx.inStart[a + 1]) { dayStamp[t.time[Int(idx.incoming[k])] / day] = 1 }
                activeDays[a] = Float(dayStamp.count)
            }
            self.outPartners = outPartners; self.inPartners = inPartners; self.meanLogOut = meanLogOut
            self.meanLogIn = meanLogIn; self.sumOut = sumOut; self.sumIn = sumIn; self.activeDays = activeDays
            self.inCrossShare = inCrossShare; self.pairCount = pairCount; self.reversePairCount = reversePairCount
            spanDays = Float(max(1, (t.time.max() ?? 0) - (t.time.min() ?? 0))) / 1440
        }

        /// Features of the rows `r` `[r.count, features]` (row-major), in parallel chunks.
        public func rows(_ r: Range<Int>) -> [Float] {
            let F = TransactionFeatures.count
            guard !r.isEmpty else { return [] }
            return [Float](unsafeUninitializedCapacity: r.count * F) { buffer, filled in
                nonisolated(unsafe) let out = buffer.baseAddress!
                parallelChunks(r.count, grain: 4096) { lo, hi in
                    self.fill((r.lowerBound + lo)..<(r.lowerBound + hi), out + lo * F)
                }
                filled = r.count * F
            }
        }

        /// Features of the rows `list` `[list.count, features]` in that order.
        public func rows(_ list: [Int]) -> [Float] {
            let F = TransactionFeatures.count
            guard !list.isEmpty else { return [] }
            return [Float](unsafeUninitializedCapacity: list.count * F) { buffer, filled in
                nonisolated(unsafe) let out = buffer.baseAddress!
                parallelChunks(list.count, grain: 1024) { lo, hi in self.fill(list[lo..<hi], out + lo * F) }
                filled = list.count * F
            }
        }

        /// Features of one row `[features]` (an alert's, for its explanation).
        public func row(_ i: Int) -> [Float] { rows(i..<(i + 1)) }

        struct WindowStats { var count: Float = 0, partners: Float = 0, meanLog: Float = 0, sum: Float = 0 }

        /// Count, distinct partners, mean log amount and USD sum of `list[lo..<hi]` entries with
        /// time in [t0, t1] (at most 400 scanned).
        @inline(__always)
        func window(_ list: UnsafePointer<Int32>, _ lo: Int, _ hi: Int, _ time: UnsafePointer<Int32>, _ t0: Int32, _ t1: Int32,
                    partnerOfOut: Bool, _ seen: inout [Int32], _ mark: Int32) -> WindowStats {
            let a = AccountIndex.lowerBound(list, lo, hi, time, t0), b = AccountIndex.lowerBound(list, lo, hi, time, t1 + 1)
            var s = WindowStats()
            s.count = Float(b - a)
            let end = min(b, a + 400)
            var distinct = 0; var logSum: Float = 0; var sum: Float = 0
            for k in a..<end {
                let j = Int(list[k])
                let p = Int(partnerOfOut ? table.dst[j] : table.src[j])
                if seen[p] != mark { seen[p] = mark; distinct += 1 }
                logSum += logAmt[j]; sum += usd[j]
            }
            s.partners = Float(distinct)
            s.meanLog = end > a ? logSum / Float(end - a) : 0
            s.sum = end > a ? sum * Float(b - a) / Float(end - a) : 0
            return s
        }

        /// Features of `rows`, the k-th written at `out + k·features`.
        func fill<Rows: Collection<Int>>(_ rows: Rows, _ out: UnsafeMutablePointer<Float>) {
            let F = TransactionFeatures.count
            let t = table, idx = index
            let n = t.accountCount
            var seen = [Int32](repeating: 0, count: n)
            var epoch: Int32 = 0  // a fresh mark per search, so `seen` never needs clearing
            var arrival = [Int32](repeating: 0, count: n)
            var queue = [Int32](); queue.reserveCapacity(512)
            var depthQ = [Int32](); depthQ.reserveCapacity(512)
            t.time.withUnsafeBufferPointer { timeB in
            idx.outgoing.withUnsafeBufferPointer { outL in
            idx.incoming.withUnsafeBufferPointer { inL in
                let time = timeB.baseAddress!, og = outL.baseAddress!, ic = inL.baseAddress!
                for (q, i) in rows.enumerated() {
                    let f = out + q * F
                    let u = Int(t.src[i]), v = Int(t.dst[i]), ti = t.time[i], a = logAmt[i]
                    f[0] = a
                    f[1] = t.payCurrency[i] != t.receiveCurrency[i] ? 1 : 0
                    for k in 0..<7 { f[2 + k] = 0 }
                    // A bank's own payment type (index 7 on) is a category of its own: no IBM indicator.
                    if t.format[i] < 7 { f[2 + Int(t.format[i])] = 1 }
                    f[9] = t.bankOfAccount[u] != t.bankOfAccount[v] ? 1 : 0
                    f[10] = u == v ? 1 : 0
                    f[11] = Float(Int(ti) % 1440) / 1440
                    let paid = t.amountPaid[i]
                    f[12] = paid >= 1 && paid == paid.rounded() ? 1 : 0
                    f[13] = t.payCurrency[i] == 0 ? 1 : 0
                    let oLo = Int(idx.outStart[u]), oHi = Int(idx.outStart[u + 1])
                    let iLo = Int(idx.inStart[u]), iHi = Int(idx.inStart[u + 1])
                    let voLo = Int(idx.outStart[v]), voHi = Int(idx.outStart[v + 1])
                    let viLo = Int(idx.inStart[v]), viHi = Int(idx.inStart[v + 1])
                    // Account activity in a ±14-day window (window-based so that a short file and a
                    // long one give comparable values).
                    let w14 = 14 * day
                    let su = window(og, oLo, oHi, time, ti - w14, ti + w14, partnerOfOut: true, &seen, { epoch += 1; return epoch }())
                    let iu = window(ic, iLo, iHi, time, ti - w14, ti + w14, partnerOfOut: false, &seen, { epoch += 1; return epoch }())
                    let sv = window(og, voLo, voHi, time, ti - w14, ti + w14, partnerOfOut: true, &seen, { epoch += 1; return epoch }())
                    let iv = window(ic, viLo, viHi, time, ti - w14, ti + w14, partnerOfOut: false, &seen, { epoch += 1; return epoch }())
                    f[14] = logf(1 + su.count); f[15] = logf(1 + iu.count)
                    f[16] = logf(1 + su.partners); f[17] = logf(1 + iu.partners); f[18] = a - su.meanLog
                    f[19] = logf(1 + sv.count); f[20] = logf(1 + iv.count)
                    f[21] = logf(1 + sv.partners); f[22] = logf(1 + iv.partners); f[23] = a - iv.meanLog
                    f[39] = logf((1 + iu.sum) / (1 + su.sum)); f[40] = logf((1 + iv.sum) / (1 + sv.sum))
                    f[24] = logf(Float(pairCount[i]))
                    f[25] = logf(1 + Float(reversePairCount[i]))
                    let w2 = 2 * day, w4 = 4 * day
                    // Bursts around the transfer.
                    let a0 = AccountIndex.lowerBound(og, oLo, oHi, time, ti - w2), a1 = AccountIndex.lowerBound(og, oLo, oHi, time, ti + w2 + 1)
                    f[26] = logf(Float(max(a1 - a0, 1)))
                    let b0 = AccountIndex.lowerBound(ic, viLo, viHi, time, ti - w2), b1 = AccountIndex.lowerBound(ic, viLo, viHi, time, ti + w2 + 1)
                    f[27] = logf(Float(max(b1 - b0, 1)))
                    // Money into the sender shortly before; money out of the receiver shortly after.
                    let c0 = AccountIndex.lowerBound(ic, iLo, iHi, time, ti - w4), c1 = AccountIndex.lowerBound(ic, iLo, iHi, time, ti + 1)
                    f[28] = logf(1 + Float(c1 - c0))
                    let d0 = AccountIndex.lowerBound(og, voLo, voHi, time, ti), d1 = AccountIndex.lowerBound(og, voLo, voHi, time, ti + w4 + 1)
                    f[29] = logf(1 + Float(d1 - d0))
                    var best: Float = 3
                    for k in d0..<min(d1, d0 + 200) { let j = Int(og[k]); if j != i { best = min(best, abs(logAmt[j] - a)) } }
                    f[30] = best
                    best = 3
                    for k in c0..<min(c1, c0 + 200) { let j = Int(ic[k]); if j != i { best = min(best, abs(logAmt[j] - a)) } }
                    f[31] = best
                    // Time-respecting paths from the receiver back to the sender within 10 days, ≤ 6 hops.
                    var found: Float = 0, length: Float = 0, reach = 0
                    if u != v {
                        queue.removeAll(keepingCapacity: true); depthQ.removeAll(keepingCapacity: true)
                        epoch += 1; let mark = epoch
                        seen[v] = mark; arrival[v] = ti; queue.append(Int32(v)); depthQ.append(1)
                        var head = 0, scanned = 0
                        let limit = ti + 10 * day, reachLimit = ti + 5 * day
                        search: while head < queue.count {
                            let x = Int(queue[head]), dx = depthQ[head]; head += 1
                            if dx > 6 { continue }
                            let xs = Int(idx.outStart[x]), xe = Int(idx.outStart[x + 1])
                            var k = AccountIndex.lowerBound(og, xs, xe, time, arrival[x])
                            while k < xe {
                                let j = Int(og[k]); k += 1
                                let tj = time[j]
                                if tj > limit { break }
                                scanned += 1
                                if scanned > 600 { break search }
                                let y = Int(t.dst[j])
                                if y == u { found = 1; length = Float(dx + 1); break search }
                                if seen[y] != mark {
                                    seen[y] = mark; arrival[y] = tj
                                    if tj <= reachLimit && dx <= 3 { reach += 1 }
                                    queue.append(Int32(y)); depthQ.append(dx + 1)
                                }
                            }
                        }
                    }
                    f[32] = found; f[33] = length; f[34] = logf(1 + Float(reach))
                    // Distinct partners inside the burst windows.
                    var distinct = 0
                    epoch += 1; let stampMark = epoch
                    for k in a0..<min(a1, a0 + 300) { let y = Int(t.dst[Int(og[k])]); if seen[y] != stampMark { seen[y] = stampMark; distinct += 1 } }
                    f[35] = logf(1 + Float(distinct))
                    distinct = 0
                    epoch += 1; let stampMark2 = epoch
                    for k in b0..<min(b1, b0 + 300) { let y = Int(t.src[Int(ic[k])]); if seen[y] != stampMark2 { seen[y] = stampMark2; distinct += 1 } }
                    f[36] = logf(1 + Float(distinct))
                    var same = 0
                    for k in oLo..<min(oHi, oLo + 300) where t.format[Int(og[k])] == t.format[i] { same += 1 }
                    f[37] = Float(same) / Float(max(min(oHi - oLo, 300), 1))
                    f[38] = inCrossShare[v]
                    f[41] = logf(1 + Float(oHi - oLo) + Float(iHi - iLo)) - logf(1 + spanDays)
                    f[42] = logf(1 + Float(voHi - voLo) + Float(viHi - viLo)) - logf(1 + spanDays)
                    // Accounts opened for a scheme act in a burst (a fan-out's sender pays its
                    // receivers within hours and is never seen again): most of the sender's transfers
                    // (in and out) within 14 days fall within 2 days of this one; an ordinary
                    // account's are spread out. A share of two windows, so a short file and a long
                    // one give comparable values.
                    let uIn2 = AccountIndex.lowerBound(ic, iLo, iHi, time, ti + w2 + 1) - AccountIndex.lowerBound(ic, iLo, iHi, time, ti - w2)
                    f[43] = Float(a1 - a0 + uIn2) / max(su.count + iu.count, 1)
                }
            }}}
        }
    }
}
