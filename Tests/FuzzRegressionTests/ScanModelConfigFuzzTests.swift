// Found by `lepton-fuzz scan-model` (scripts/fuzz.sh): a model folder whose config.json gives a
// negative channel count ("channels": [-63, 32, 64]) overflowed a heap buffer while the layers
// were allocated (AddressSanitizer). Every size and number of the configuration is now checked
// before anything is allocated from it.

import Foundation
import XCTest
import LeptonDiagnose

final class ScanModelConfigFuzzTests: XCTestCase {
    static let sampleModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples/diagnose/model")

    /// A copy of the shipped model folder whose config.json has `edit` applied.
    private func modelFolder(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scan-model-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.sampleModel, to: dir)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathComponent("config.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cfg)) as? [String: Any])
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: cfg)
        return dir
    }

    func testTheShippedConfigurationLoads() throws {
        XCTAssertNoThrow(try ScanClassifier.load(from: modelFolder { _ in }))
    }

    func testImpossibleSizesAndNumbersAreErrorsNamingTheField() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("channel count -63", { $0["channels"] = [-63, 32, 64] }),
            ("channel count 0", { $0["channels"] = [16, 0, 64] }),
            ("channel count 1000000", { $0["channels"] = [1_000_000, 32, 64] }),
            ("inputSize", { $0["inputSize"] = 1 << 40 }),
            ("temperature", { $0["temperature"] = -1 }),
            ("bnEps", { $0["bnEps"] = 0 }),
            ("threshold", { $0["threshold"] = 7 }),
        ]
        for (expected, edit) in cases {
            XCTAssertThrowsError(try ScanClassifier.load(from: modelFolder(edit)), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(expected): \(error)")
            }
        }
    }
}
