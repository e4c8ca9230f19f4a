import Foundation
import XCTest
@testable import LeptonText
@testable import LeptonDialog

/// One loaded intent model and one loaded agent serve many threads and sessions at once: the
/// results are the single-threaded ones, and no session sees another's state.
final class SharingTests: XCTestCase {
    /// Bank-agent utterances of different intents and lengths.
    static let sentences = [
        "I lost my card", "what's my balance", "send 50 dollars to my landlord", "I want to talk to a human",
        "how do I change my pin", "there is a charge I don't recognise on my statement", "hello", "thanks, bye",
        "my card hasn't arrived yet and it has been two weeks", "what is the exchange rate for euros",
        "can I get a loan for a car", "show me my recent transactions", "yes", "no, cancel that",
        "I need to update my address", "open a savings account",
    ]

    /// What each thread found, behind a lock.
    final class Results<T>: @unchecked Sendable {
        private let lock = NSLock()
        private var byThread: [Int: T] = [:]
        func put(_ t: Int, _ r: T) { lock.lock(); byThread[t] = r; lock.unlock() }
        func get(_ t: Int) -> T? { lock.lock(); defer { lock.unlock() }; return byThread[t] }
    }

    /// 8 threads classify every sentence, each starting at a different one, with the shipped
    /// bank model: every ranking equals the single-threaded one (labels and probabilities, bit for bit).
    func testEightThreadsClassifyLikeOne() throws {
        _ = try IntentTests.sharedEncoder()   // skips without the bootstrapped MiniLM
        let model = try IntentModel(folder: Repo.bank.appendingPathComponent("model"))
        let n = Self.sentences.count
        let single = Self.sentences.map { model.classify($0) }
        let threads = 8
        let results = Results<[[(intent: String, probability: Float)]]>()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            results.put(t, (0..<n).map { model.classify(Self.sentences[($0 + t) % n]) })
        }
        for t in 0..<threads {
            let got = try XCTUnwrap(results.get(t))
            for (i, ranking) in got.enumerated() {
                let want = single[(i + t) % n]
                XCTAssertEqual(ranking.map(\.intent), want.map(\.intent), "thread \(t): \(Self.sentences[(i + t) % n])")
                XCTAssertEqual(ranking.map(\.probability), want.map(\.probability), "thread \(t): \(Self.sentences[(i + t) % n])")
            }
        }
    }

    /// Eight conversations played at once on one agent, one session each, end as the same
    /// conversations played one after another on an agent of their own: same replies, same states.
    func testOneAgentServesEightSessionsAtOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-sharing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func agent(_ file: String) throws -> ChatAgent {
            ChatAgent(domain: try Domain.load(Repo.bank.appendingPathComponent("domain.yml")), classifier: KeywordClassifier(),
                      extractor: EntityExtractor(referenceDay: Day(year: 2026, month: 11, day: 25)!),
                      store: try SQLiteSessionStore(url: dir.appendingPathComponent(file)))
        }
        // Conversations that fill forms, fall back and hand off: each session's state differs.
        let scripts: [[String]] = [
            ["hello", "I want to transfer money", "50 dollars", "to my landlord", "yes"],
            ["what's my balance", "thanks"],
            ["I lost my card", "yes", "bye"],
            ["blah", "blah blah", "still nothing", "human please"],
            ["send 20 euros", "to my sister", "no"],
            ["dispute a charge", "yes", "thank you"],
            ["change my pin", "yes", "bye"],
            ["transfer", "100 dollars", "my brother", "yes", "balance"],
        ]
        let shared = try agent("shared.sqlite")
        let results = Results<[AgentReply]>()
        let failures = Results<String>()
        DispatchQueue.concurrentPerform(iterations: scripts.count) { s in
            do { results.put(s, try scripts[s].map { try shared.respond(text: $0, session: "session-\(s)") }) } catch {
                failures.put(s, "\(error)")
            }
        }
        for s in scripts.indices { XCTAssertNil(failures.get(s), "session \(s)") }
        let alone = try agent("alone.sqlite")
        for (s, script) in scripts.enumerated() {
            let want = try script.map { try alone.respond(text: $0, session: "session-\(s)") }
            let got = try XCTUnwrap(results.get(s), "session \(s)")
            XCTAssertEqual(got.map(\.reply), want.map(\.reply), "session \(s)")
            XCTAssertEqual(got.map(\.intent), want.map(\.intent), "session \(s)")
            XCTAssertEqual(got.map(\.state), want.map(\.state), "session \(s)")
            XCTAssertEqual(try shared.store.history(of: "session-\(s)").map(\.reply), want.map(\.reply), "session \(s)")
        }
    }
}
