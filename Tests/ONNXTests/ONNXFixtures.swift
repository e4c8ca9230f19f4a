import Foundation
import XCTest
@testable import LeptonEngine
import LeptonONNX

/// The fixtures scripts/make-onnx-fixtures.py writes (models exported from PyTorch and ONNX
/// Runtime's answers): ~/.cache/lepton/fixtures/onnx, or $LEPTON_ONNX_FIXTURES.
enum ONNXFixtures {
    static let folder: URL = {
        if let d = ProcessInfo.processInfo.environment["LEPTON_ONNX_FIXTURES"] { return URL(fileURLWithPath: d) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton/fixtures/onnx")
    }()

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The fixture's URL; a missing fixture fails the test with the command that makes it.
    static func url(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let u = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: u.path) else {
            XCTFail("missing fixture \(u.path): run `$(bash scripts/ml-env.sh | tail -n1) scripts/make-onnx-fixtures.py` (scripts/test.sh does)", file: file, line: line)
            throw CocoaError(.fileNoSuchFile)
        }
        return u
    }

    static func npy(_ name: String) throws -> NumpyArray {
        let u = try url(name)
        return try NumpyArchive.parseNpy([UInt8](try Data(contentsOf: u)), name: name, source: u.path)
    }

    static func tensor(_ name: String) throws -> Tensor { try npy(name).tensor }

    static func ints(_ name: String) throws -> IntTensor {
        let a = try npy(name)
        return IntTensor(shape: a.shape, values: a.integers)
    }

    static func model(_ name: String) throws -> ONNXModel { try ONNXModel(contentsOf: try url(name)) }

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: try url(name))) as! [String: Any]
    }
}

/// Largest |a − b| over two equally shaped tensors.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "\(a.shape) vs \(b.shape)")
    return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

extension XCTestCase {
    /// max |ours − ORT| ≤ 1e-4 · max(1, max |ORT|): absolute 1e-4 for outputs of order one,
    /// relative 1e-4 to the largest output beyond.
    func assertClose(_ ours: Tensor, _ reference: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.shape, reference.shape, what, file: file, line: line)
        guard ours.shape == reference.shape else { return }
        let scale = max(1, reference.scalars.map(abs).max() ?? 0)
        let diff = maxAbsDifference(ours, reference)
        XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "\(what): max |ours − ORT| = \(diff) (scale \(scale))", file: file, line: line)
    }
}
