import Foundation
import XCTest
@testable import LeptonEngine
@testable import LeptonONNX

/// LSTM, Pad and 1-D Conv against ONNX Runtime on small graphs, and Silero VAD v6 (the model
/// faster-whisper ships) on real speech: the fixtures of scripts/make-recurrent-fixtures.py.
final class ONNXRecurrentTests: XCTestCase {
    static let folder: URL = {
        if let d = ProcessInfo.processInfo.environment["LEPTON_RECURRENT_FIXTURES"] { return URL(fileURLWithPath: d) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton/fixtures/onnx-recurrent")
    }()

    struct Case: Decodable {
        let model: String
        let model_path: String?
        let inputs: [String: String]
        let outputs: [String: String]
    }

    func cases() throws -> [String: Case] {
        let url = Self.folder.appendingPathComponent("cases.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("missing \(url.path): run `$(bash scripts/ml-env.sh | tail -n1) scripts/make-recurrent-fixtures.py` (scripts/test.sh does)")
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode([String: Case].self, from: Data(contentsOf: url))
    }

    func npy(_ name: String) throws -> NumpyArray {
        let u = Self.folder.appendingPathComponent(name)
        return try NumpyArchive.parseNpy([UInt8](try Data(contentsOf: u)), name: name, source: u.path)
    }

    func value(_ name: String) throws -> ONNXValue {
        let a = try npy(name)
        if a.floats.isEmpty && !a.integers.isEmpty { return .int64(IntTensor(shape: a.shape, values: a.integers)) }
        return .float(a.tensor)
    }

    /// Runs one case and compares every output with ONNX Runtime's.
    func check(_ name: String, tolerance: Float = 2e-5, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try XCTUnwrap(try cases()[name], "no case \(name)")
        let modelURL = c.model_path.map { ModelCache.root.appendingPathComponent($0) } ?? Self.folder.appendingPathComponent(c.model)
        let model = try ONNXModel(contentsOf: modelURL)
        var feeds: [String: ONNXValue] = [:]
        for (k, f) in c.inputs { feeds[k] = try value(f) }
        let plan = try model.plan(inputShapes: feeds.mapValues(\.shape))
        let out = try plan.run(feeds)
        for (k, f) in c.outputs.sorted(by: { $0.key < $1.key }) {
            let want = try value(f), got = try XCTUnwrap(out[k], "\(name): no output \(k)", file: file, line: line)
            XCTAssertEqual(got.shape, want.shape, "\(name).\(k) shape", file: file, line: line)
            switch (got, want) {
            case let (.float(g), .float(w)):
                guard g.shape == w.shape else { continue }
                let scale = max(1, w.scalars.map(abs).max() ?? 1)
                XCTAssertLessThanOrEqual(maxAbsDifference(g, w), tolerance * scale, "\(name).\(k)", file: file, line: line)
            case let (.int64(g), .int64(w)):
                XCTAssertEqual(g.values, w.values, "\(name).\(k)", file: file, line: line)
            default:
                XCTFail("\(name).\(k): type \(got.type), ONNX Runtime gave \(want.type)", file: file, line: line)
            }
        }
    }

    func testLSTMForwardWithBiasAndInitialState() throws { try check("lstm_forward") }
    func testLSTMBidirectionalWithoutBias() throws { try check("lstm_bidirectional") }
    func testLSTMReverse() throws { try check("lstm_reverse") }
    func testPadReflect() throws { try check("pad_reflect") }
    func testPadConstantWithNegativePad() throws { try check("pad_constant_3d") }
    func testPadEdgeOnGivenAxes() throws { try check("pad_edge_axes") }
    func testPadWrap() throws { try check("pad_wrap") }
    func testPadInt64() throws { try check("pad_int64") }
    func testConv1D() throws { try check("conv1d") }
    func testConv1DGroups() throws { try check("conv1d_groups") }

    /// The whole Silero VAD v6 graph (reflect Pad, STFT as a 1-D Conv, four Conv1d, LSTM with a
    /// carried state) on 40 windows of jfk.wav: probabilities and the final LSTM state.
    func testSileroVADMatchesONNXRuntime() throws { try check("silero_vad", tolerance: 1e-4) }

    /// Forms we do not implement are refused by name, never computed wrongly.
    func testUnsupportedFormsAreRefused() throws {
        let c = try XCTUnwrap(try cases()["lstm_forward"])
        let model = try ONNXModel(contentsOf: Self.folder.appendingPathComponent(c.model))
        XCTAssertTrue(ONNXOperatorSet.supported.contains("LSTM") && ONNXOperatorSet.supported.contains("Pad"))
        // A plan for a shape the graph does not declare fails with a typed error, not a crash.
        XCTAssertThrowsError(try model.plan(inputShapes: ["X": [5, 2, 4], "h0": [1, 2, 4], "c0": [1, 2, 4]]))
    }
}
