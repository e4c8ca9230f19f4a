import Foundation
import LeptonEngine

/// A seeded generator of synthetic bank transfers in the IBM AML schema, written from the
/// description of AMLworld (Altman et al., "Realistic Synthetic Financial Transactions for
/// Anti-Money Laundering Models", NeurIPS 2023 Datasets & Benchmarks):
///
/// - normal activity: accounts with heavy-tailed (Pareto) activity rates, a few repeat payees
///   each (a multigraph), merchants chosen by Pareto popularity, monthly salaries from
///   businesses, self "Reinvestment" transfers, home currencies by region with about 2 %
///   cross-currency payments, log-normal amounts scaled per account;
/// - laundering: the eight typologies fan-out, fan-in, cycle, bipartite, stack, random (walk),
///   scatter-gather and gather-scatter, plus lone illicit transfers. Each pattern moves money
///   among a few accounts within days, passing on most of what came in (a few percent kept as
///   fees), in formats that lean towards ACH, cash, wire and Bitcoin.
///
/// Every laundering row is listed in the side file with its pattern id and typology.
public struct AMLSimulator {
    public struct Options: Sendable {
        public var accounts = 2000
        public var days = 30
        public var seed: UInt64 = 0
        /// Laundering patterns per 1000 accounts per 30 days.
        public var patternRate: Double = 4
        /// Start date (minutes since the epoch): 2022-09-01 00:00.
        public var start = minutesSinceEpoch(year: 2022, month: 9, day: 1, hour: 0, minute: 0)
        public init() {}
    }

    public static let typologies = ["fan-out", "fan-in", "cycle", "bipartite", "stack", "random", "scatter-gather", "gather-scatter"]

    struct Account {
        var bank: String
        var id: String
        var currency: Int
        var business: Bool
        var rate: Double
        var scale: Double
        var payees: [Int]
    }

    struct Row {
        var time: Int
        var from: Int, to: Int
        var amountUSD: Double
        var format: Int
        var laundering: Bool
        var pattern: Int
        var typology: String
    }

    /// Generates the transactions; returns the CSV text and the side-file text.
    public static func generate(_ o: Options) throws -> (csv: String, patterns: String, rows: Int, laundering: Int) {
        guard o.accounts >= 20 else { throw RiskError.badArgument("--accounts must be at least 20") }
        guard o.days >= 1 && o.days <= 3650 else { throw RiskError.badArgument("--days must be in 1…3650") }
        var rng = SeededGenerator(seed: o.seed)
        func uniform() -> Double { Double(rng.nextUniform()) }
        func int(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        func pareto(_ alpha: Double) -> Double { pow(1 - uniform() * 0.999_999, -1 / alpha) }
        func normal() -> Double { Double(rng.nextNormal()) }

        // Banks: a large domestic bank and many small ones; currency region per bank.
        let bankCount = max(5, o.accounts / 150)
        var bankCodes: [String] = []
        var bankCurrency: [Int] = []
        let regionCurrencies = [0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14]
        for b in 0..<bankCount {
            bankCodes.append(b == 0 ? "070" : String(format: "%05d", 1000 + int(40000)))
            bankCurrency.append(b == 0 ? 0 : regionCurrencies[int(regionCurrencies.count)])
        }
        var used = Set<String>()
        var accounts: [Account] = []
        for _ in 0..<o.accounts {
            let b = uniform() < 0.45 ? 0 : 1 + int(bankCount - 1)
            var id = ""
            repeat { id = String(format: "%09X", 0x8_0000_0000 + UInt64(int(0x3_FFFF_FFFF))) } while used.contains(id)
            used.insert(id)
            let business = uniform() < 0.12
            accounts.append(Account(bank: bankCodes[b], id: id, currency: bankCurrency[b], business: business,
                                    rate: min(40, 0.15 * pareto(1.6) * (business ? 4 : 1)),
                                    scale: exp(5.5 + 1.2 * normal() + (business ? 1.5 : 0)), payees: []))
        }
        let n = accounts.count
        // Merchant popularity (Pareto) for card purchases; repeat payees per account.
        let popularity = (0..<n).map { accounts[$0].business ? pareto(1.2) : 0.05 }
        var cumulative = [Double](); cumulative.reserveCapacity(n)
        var acc = 0.0
        for p in popularity { acc += p; cumulative.append(acc) }
        func popular() -> Int {
            let r = uniform() * acc
            var lo = 0, hi = n - 1
            while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < r { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        for a in 0..<n { accounts[a].payees = (0..<(1 + int(4))).map { _ in uniform() < 0.5 ? popular() : int(n) } }
        let businesses = (0..<n).filter { accounts[$0].business }

        var rows: [Row] = []
        let minutes = o.days * 1440
        // Normal activity.
        for a in 0..<n {
            let count = Int(Double(o.days) * accounts[a].rate * (0.7 + 0.6 * uniform()))
            for _ in 0..<count {
                let t = o.start + int(minutes)
                let r = uniform()
                var to: Int, format: Int
                if r < 0.35 { to = accounts[a].payees[int(accounts[a].payees.count)]; format = [0, 0, 3, 6][int(4)] }
                else if r < 0.75 { to = popular(); format = [4, 4, 4, 3, 2][int(5)] }
                else if r < 0.96 { to = int(n); format = [0, 3, 2, 6, 0][int(5)] }
                else { to = a; format = 5 }
                if format != 5 && to == a { to = (a + 1) % n }
                let amount = accounts[a].scale * exp(0.9 * normal()) / 10
                rows.append(Row(time: t, from: a, to: to, amountUSD: amount, format: format, laundering: false, pattern: -1, typology: ""))
            }
        }
        // Salaries: each business pays a few employees monthly (1st of month) or fortnightly.
        if !businesses.isEmpty {
            for a in 0..<n where !accounts[a].business && uniform() < 0.6 {
                let employer = businesses[int(businesses.count)]
                let pay = accounts[a].scale * 3
                var t = o.start + int(3) * 1440 + 9 * 60
                let step = uniform() < 0.5 ? 30 * 1440 : 14 * 1440
                while t < o.start + minutes {
                    rows.append(Row(time: t + int(120), from: employer, to: a, amountUSD: pay * (0.98 + 0.04 * uniform()), format: 0,
                                    laundering: false, pattern: -1, typology: ""))
                    t += step
                }
            }
        }
        // Laundering patterns.
        let patterns = max(8, Int(Double(n) / 1000 * o.patternRate * Double(o.days) / 30))
        func launderFormat() -> Int { [0, 0, 0, 2, 2, 6, 6, 3, 4, 1][int(10)] }
        // Distinct accounts in draw order (a Set's iteration order would break reproducibility).
        func pick(_ k: Int) -> [Int] {
            var s = Set<Int>(), order: [Int] = []
            while order.count < min(k, n) { let a = int(n); if s.insert(a).inserted { order.append(a) } }
            return order
        }
        for p in 0..<(patterns + 8) {
            let typ = p < 8 ? typologies[p] : (uniform() < 0.1 ? "lone" : typologies[int(8)])
            var t = o.start + int(max(1, minutes - 6 * 1440))
            var amount = exp(8 + normal())
            func emit(_ u: Int, _ v: Int, _ amt: Double) {
                let fmt = accounts[u].currency == 6 || accounts[v].currency == 6 ? 1 : launderFormat()
                rows.append(Row(time: min(t, o.start + minutes - 1), from: u, to: v, amountUSD: amt, format: fmt, laundering: true, pattern: p, typology: typ))
            }
            func advance() { t += 30 + int(18 * 60) }
            switch typ {
            case "fan-out":
                let a = pick(1 + 3 + int(5)); for v in a.dropFirst() { emit(a[0], v, amount / Double(a.count - 1) * (0.9 + 0.2 * uniform())); advance() }
            case "fan-in":
                let a = pick(1 + 3 + int(5)); for u in a.dropFirst() { emit(u, a[0], amount / Double(a.count - 1) * (0.9 + 0.2 * uniform())); advance() }
            case "cycle":
                let a = pick(3 + int(5)); for k in 0..<a.count { emit(a[k], a[(k + 1) % a.count], amount); amount *= 0.95 + 0.04 * uniform(); advance() }
            case "bipartite":
                let a = pick(4 + int(4)); let cut = a.count / 2
                for _ in 0..<(a.count + int(3)) { emit(a[int(cut)], a[cut + int(a.count - cut)], amount / 3 * (0.8 + 0.4 * uniform())); advance() }
            case "stack":
                let a = pick(6 + int(4)); let l1 = a.count / 3, l2 = 2 * a.count / 3
                for _ in 0..<(l1 + 2) { emit(a[int(l1)], a[l1 + int(l2 - l1)], amount / 3); advance() }
                for _ in 0..<(l1 + 2) { emit(a[l1 + int(l2 - l1)], a[l2 + int(a.count - l2)], amount / 3 * 0.96); advance() }
            case "random":
                let a = pick(4 + int(4)); var cur = a[0]
                for _ in 0..<(a.count + 1) { var nxt = a[int(a.count)]; if nxt == cur { nxt = a[(a.firstIndex(of: cur)! + 1) % a.count] }
                    emit(cur, nxt, amount); amount *= 0.97; cur = nxt; advance() }
            case "scatter-gather":
                let a = pick(2 + 3 + int(4)); let mids = a.dropFirst(2)
                for m in mids { emit(a[0], m, amount / Double(mids.count)); advance() }
                for m in mids { emit(m, a[1], amount / Double(mids.count) * 0.95); advance() }
            case "gather-scatter":
                let a = pick(1 + 6 + int(6)); let half = (a.count - 1) / 2
                for u in a[1...half] { emit(u, a[0], amount / Double(half)); advance() }
                for v in a[(half + 1)...] { emit(a[0], v, amount / Double(a.count - 1 - half) * 0.95); advance() }
            default:
                let a = pick(2); emit(a[0], a[1], amount * 3)
            }
        }
        rows.sort { ($0.time, $0.from, $0.to) < ($1.time, $1.from, $1.to) }

        var csv = TransactionTable.header + "\n"
        csv.reserveCapacity(rows.count * 110)
        var side = "row_index,pattern_id,typology\n"
        var laundering = 0
        for (k, r) in rows.enumerated() {
            let u = accounts[r.from], v = accounts[r.to]
            var payCur = r.format == 1 ? 6 : u.currency
            var recvCur = r.format == 1 ? 6 : v.currency
            if r.format != 1 && payCur != recvCur && uniform() < 0.9 { recvCur = payCur } // most payments stay in one currency
            if r.from == r.to { recvCur = payCur }
            if payCur == 6 && r.format != 1 { payCur = 0; recvCur = 0 }
            let paid = r.amountUSD * Currency.perUSD[payCur]
            let received = r.amountUSD * Currency.perUSD[recvCur]
            csv += "\(formatTimestamp(r.time)),\(u.bank),\(u.id),\(v.bank),\(v.id),\(formatAmount(Float(received))),\(Currency.names[recvCur]),"
            csv += "\(formatAmount(Float(paid))),\(Currency.names[payCur]),\(PaymentFormat.names[r.format]),\(r.laundering ? 1 : 0)\n"
            if r.laundering { side += "\(k),\(r.pattern),\(r.typology)\n"; laundering += 1 }
        }
        return (csv, side, rows.count, laundering)
    }
}
