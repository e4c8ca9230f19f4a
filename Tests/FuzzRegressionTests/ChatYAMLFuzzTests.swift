// Inputs found by `lepton-fuzz nlu` (scripts/fuzz.sh), reduced by hand. Yams builds mapping keys
// with `String.construct(from: key)!`, so a list or mapping used as a key trapped the process
// (`lepton-chat train --data x.yml` and every domain load); SafeYAML now refuses such keys.

import Foundation
import XCTest
import LeptonDialog

final class ChatYAMLFuzzTests: XCTestCase {
    /// YAML 1.2 §7.4.2 / §8.2.2: flow and block mappings may have collections as keys, so all of
    /// these are valid YAML that Yams cannot represent as `[String: Any]`.
    static let collectionKeys = [
        "? [a]\n: b\n",                           // explicit block key that is a flow sequence
        "{[a]: b}\n",                             // flow mapping with a sequence key
        "x: {? {a: 1} : 2}\n",                    // nested: a mapping key inside a value
        "nlu:\n  ? - intent\n  : greet\n",       // block sequence as key
        "x: &k [1]\ny: {*k : 2}\n",               // alias of a sequence used as a key
    ]

    func testDomainRefusesCollectionKeys() {
        for text in Self.collectionKeys {
            XCTAssertThrowsError(try Domain.parse(text, file: "domain.yml"), text) { error in
                XCTAssertTrue("\(error)".contains("mapping key"), "\(text): \(error)")
            }
        }
    }

    func testNLUDataRefusesCollectionKeys() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString).yml")
        defer { try? FileManager.default.removeItem(at: url) }
        for text in Self.collectionKeys {
            try Data(text.utf8).write(to: url)
            XCTAssertThrowsError(try NLUData.load(url), text) { error in
                XCTAssertTrue("\(error)".contains("mapping key"), "\(text): \(error)")
            }
        }
    }

    func testScalarKeysAndScalarAliasesAsKeysStillLoad() throws {
        // The check must not refuse what Yams handles: plain, quoted and aliased scalar keys.
        XCTAssertEqual(try SafeYAML.load("a: 1\n'b c': 2\n") as? [String: Int], ["a": 1, "b c": 2])
        let aliased = try SafeYAML.load("x: &k name\ny: {*k : 2}\n") as? [String: Any]
        XCTAssertEqual(aliased?["y"] as? [String: Int], ["name": 2])
    }
}
