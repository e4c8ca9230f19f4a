import Foundation
import XCTest
import LeptonDiagnose
import LeptonEngine

/// One loaded scan classifier serves many threads: inference reads the weights as constants and
/// writes nothing into the model, so concurrent analyses give the single-threaded results.
final class ScanSharingTests: XCTestCase {
    /// The PyTorch baseline's model, its 16 normalised reference images and their logits (eval mode).
    func loadReference() throws -> (model: ScanClassifier, input: [Float], logits: [Float]) {
        let model = try ScanClassifier.load(npz: DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn.npz"))
        let ref = try NumpyArchive.read(DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn_reference.npz"))
        return (model, try XCTUnwrap(ref["input_normalized"]?.floats), try XCTUnwrap(ref["logits"]?.floats))
    }

    /// 8 threads, each running Grad-CAM and the probabilities of all 16 reference images one by one
    /// on the same model, get exactly what one thread gets.
    func testEightThreadsAnalyzeLikeOne() throws {
        let (model, input, _) = try loadReference()
        let plane = 28 * 28, images = input.count / plane
        @Sendable func analyze(_ b: Int) -> (logits: [Float], map: [Float], probabilities: [Float]) {
            let x = Array(input[(b * plane)..<((b + 1) * plane)])
            let (logits, maps) = model.gradCAM(x, n: 1)
            return (logits, maps[0].map, model.probabilities(x, n: 1))
        }
        let single = (0..<images).map(analyze)
        let threads = 8
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            // Each thread starts at a different image, so different images run at the same time.
            let mine = (0..<images).map { analyze(($0 + t) % images) }
            results.put(t, mine)
        }
        for t in 0..<threads {
            for (i, got) in results.get(t).enumerated() {
                let want = single[(i + t) % images]
                XCTAssertEqual(got.logits, want.logits, "thread \(t) image \((i + t) % images)")
                XCTAssertEqual(got.map, want.map, "thread \(t) image \((i + t) % images)")
                XCTAssertEqual(got.probabilities, want.probabilities, "thread \(t) image \((i + t) % images)")
            }
        }
    }

    /// What each thread found, behind a lock.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var byThread: [Int: [(logits: [Float], map: [Float], probabilities: [Float])]] = [:]
        func put(_ t: Int, _ r: [(logits: [Float], map: [Float], probabilities: [Float])]) { lock.lock(); byThread[t] = r; lock.unlock() }
        func get(_ t: Int) -> [(logits: [Float], map: [Float], probabilities: [Float])] { lock.lock(); defer { lock.unlock() }; return byThread[t] ?? [] }
    }

    /// Inference leaves the model as it was: same weights and running statistics, no gradient
    /// accumulated into a parameter (Grad-CAM back-propagates to the activations only), and the
    /// module's training flag untouched.
    func testInferenceWritesNothingIntoTheModel() throws {
        let (model, input, reference) = try loadReference()
        let before = model.stateDict()
        model.setTraining(true)
        let trainingModeLogits = model.logits(Array(input[0..<(4 * 784)]), n: 4)
        _ = model.gradCAM(Array(input[0..<(4 * 784)]), n: 4)
        XCTAssertTrue(model.isTraining, "inference switched the module's mode")
        for (name, p) in model.namedParameters() { XCTAssertNil(p.grad, "\(name) got a gradient from inference") }
        let after = model.stateDict()
        XCTAssertEqual(Set(before.keys), Set(after.keys))
        for (name, t) in before { XCTAssertEqual(after[name]?.scalars, t.scalars, name) }
        // Inference is evaluation mode whatever the flag: PyTorch's eval-mode logits.
        for i in 0..<8 { XCTAssertEqual(trainingModeLogits[i], reference[i], accuracy: 1e-4) }
    }
}
