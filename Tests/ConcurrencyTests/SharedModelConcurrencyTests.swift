import Foundation
import XCTest
import LeptonEngine
import LeptonSpeech
import LeptonText
import LeptonDiagnose
import LeptonRisk

/// One loaded model of each kind, called from many threads at once, gives exactly what it gives
/// when called alone.
///
/// Ten threads (two per kind) transcribe a sample clip with Whisper, embed sentences with MiniLM,
/// classify them with the shipped bank intent model, analyse a scan and its report with the shipped
/// scan model, and score the risk sample's test transactions — all at once, each kind on ONE shared
/// model. Every result must equal the single-threaded run of the same call BIT FOR BIT (floats
/// compared by bit pattern): a call's arithmetic does not depend on other threads (the engine
/// splits work into a fixed number of chunks by index, and no kernel splits a reduction across
/// threads differently under load), so any difference means shared mutable state — a scratch
/// buffer, a cache, a global toggle — leaked from one call into another.
///
/// Under the thread sanitizer (`scripts/tsan.sh`) the same test is the race detector: a data race
/// in any model's inference path is reported even when the results happen to agree. The script
/// builds in release with `-sanitize=thread`: a debug build runs Whisper's scalar loops about
/// 50× slower, and this test would take many minutes there; release keeps every memory access the
/// sanitizer needs to see (it instruments the optimised code).
///
/// Inputs are small (one 11 s clip, greedy decoding, a dozen sentences, two studies, 1,692
/// transactions) so the test takes a few seconds in release.
final class SharedModelConcurrencyTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let samples = repoRoot.appendingPathComponent("samples")

    /// A value handed to other threads. Today's `TransactionModel` is a struct that is not declared
    /// `Sendable` (it holds only `let` arrays); the box states that it is read-only here.
    struct ReadOnly<T>: @unchecked Sendable { let value: T }

    /// Results written by the worker threads (each slot by one thread), read after they joined.
    final class Slots: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Result<String, Error>] = [:]
        func set(_ i: Int, _ r: Result<String, Error>) { lock.lock(); values[i] = r; lock.unlock() }
        func get(_ i: Int) -> Result<String, Error>? { lock.lock(); defer { lock.unlock() }; return values[i] }
    }

    /// Floats as their bit patterns: equality of these strings is bit-for-bit equality.
    static func bits<S: Sequence>(_ xs: S) -> String where S.Element == Float {
        xs.map { String($0.bitPattern, radix: 16) }.joined(separator: ",")
    }

    func testEveryModelGivesTheSingleThreadedResultUnderConcurrentCalls() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: ModelCache.miniLM.appendingPathComponent("model.safetensors").path)
                          && FileManager.default.fileExists(atPath: ModelCache.whisperTinyEn.appendingPathComponent("model.bin").path),
                          "run scripts/bootstrap.sh first")
        EngineThreads.set(2)
        defer { EngineThreads.set(1) }

        // One loaded model per kind.
        let whisper = try WhisperModel()
        let intents = try IntentModel(folder: Self.samples.appendingPathComponent("bank/model"))
        let encoder = intents.encoder
        let scanModel = try ScanClassifier.load(from: Self.samples.appendingPathComponent("diagnose/model"))
        let pipeline = DiagnosePipeline(model: scanModel)
        let risk = ReadOnly(value: try TransactionModel.load(from: Self.samples.appendingPathComponent("risk/model")))

        let clip = Self.samples.appendingPathComponent("chat/jfk.wav")
        let sentences = try String(contentsOf: Self.samples.appendingPathComponent("chat/questions.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let studies = Self.samples.appendingPathComponent("diagnose/studies")
        let transactions = Self.samples.appendingPathComponent("risk/test.csv").path

        // Each job is one inference call, rendered exactly.
        let jobs: [(name: String, run: @Sendable () throws -> String)] = [
            ("transcribe", {
                var o = WhisperTranscribeOptions()
                o.beamSize = 1
                let r = try WhisperTranscriber(model: whisper, options: o).transcribe(url: clip)
                let e = JSONEncoder()
                e.outputFormatting = .sortedKeys
                return String(decoding: try e.encode(r.segments), as: UTF8.self)
            }),
            ("encode", { Self.bits(encoder.embed(sentences).scalars) }),
            ("classify", {
                intents.classify(sentences).map { $0.map { "\($0.intent)=\(String($0.probability.bitPattern, radix: 16))" }.joined(separator: " ") }
                    .joined(separator: "\n")
            }),
            ("analyze", {
                try [("case1.png", "case1.txt"), ("case2.png", "case2.xml"), ("case4.dcm", "case4.txt")].map { scan, report in
                    let s = try pipeline.analyze(scan: studies.appendingPathComponent(scan),
                                                 report: studies.appendingPathComponent(report), name: scan)
                    return s.jsonLine() + " heatmap:" + Self.bits(s.heatmap ?? [])
                }.joined(separator: "\n")
            }),
            ("score", { Self.bits(try ScoredTransactions(model: risk.value, path: transactions).scores) }),
        ]

        // The reference: every call alone, on this thread.
        let alone = try jobs.map { try $0.run() }
        for (job, result) in zip(jobs, alone) { XCTAssertGreaterThan(result.count, 20, "\(job.name) gave an empty result") }

        // Two threads per kind, released together so the calls overlap.
        let threadsPerKind = 2
        let slots = Slots()
        let start = DispatchSemaphore(value: 0), done = DispatchGroup()
        for t in 0..<(jobs.count * threadsPerKind) {
            let job = jobs[t % jobs.count]
            done.enter()
            let thread = Thread {
                start.wait()
                slots.set(t, Result { try job.run() })
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<(jobs.count * threadsPerKind) { start.signal() }
        // A hang guard only (a deadlock would otherwise stall the suite); the work takes seconds.
        guard done.wait(timeout: .now() + 900) == .success else { return XCTFail("the concurrent calls did not finish in 15 minutes") }

        for t in 0..<(jobs.count * threadsPerKind) {
            let name = jobs[t % jobs.count].name
            switch slots.get(t) {
            case .success(let got)?: XCTAssertTrue(got == alone[t % jobs.count], "thread \(t): \(name) differs from its single-threaded result")
            case .failure(let e)?: XCTFail("thread \(t): \(name) threw \(e)")
            case nil: XCTFail("thread \(t): \(name) gave no result")
            }
        }
    }
}
