import Foundation
import XCTest

/// `lepton-risk train --save-dtype float16`: the GNN's weights in float16, the trees and the
/// networks' input statistics in float32 (read from the file's own header), and the model scores
/// the same flagged transactions as the float32 model.
extension RiskProgramTests {
    func testSaveDTypeHalvesTheNetworkAndKeepsTheTreesExact() throws {
        func dtypes(_ folder: URL) throws -> [String: String] {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent("model.safetensors")))
            let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
            let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
            return header.compactMapValues { ($0 as? [String: Any])?["dtype"] as? String }
        }
        var scores: [String: [Substring]] = [:]
        for dtype in ["float32", "float16"] {
            let out = tmp.appendingPathComponent("model-\(dtype)")
            let r = try risk(["train", "--transactions", Self.samples + "/train.csv", "--out", out.path, "--trees", "20", "--gnn-epochs", "2",
                              "--seed", "1", "--depth", "5", "--save-dtype", dtype, "-q"])   // seed 1, depth-5 trees: CV keeps the GNN
            XCTAssertEqual(r.status, 0, r.stderr)
            let types = try dtypes(out)
            XCTAssertTrue(types.filter { $0.key.hasPrefix("gbt") }.values.allSatisfy { $0 == "F32" }, "\(types)")
            XCTAssertEqual(types["gnn.edge_mean"], "F32"); XCTAssertEqual(types["gnn.edge_std"], "F32")
            let network = types.filter { $0.key.hasPrefix("gnn.") && !$0.key.hasSuffix("mean") && !$0.key.hasSuffix("std") }
            XCTAssertFalse(network.isEmpty, "the GNN was kept, so its weights are in the file: \(types.keys.sorted())")
            XCTAssertTrue(network.values.allSatisfy { $0 == (dtype == "float16" ? "F16" : "F32") }, "\(network)")
            let s = try risk(["score", "--model", out.path, "--transactions", Self.samples + "/test.csv", "--history", Self.samples + "/train.csv", "--top", "20"])
            XCTAssertEqual(s.status, 0, s.stderr)
            scores[dtype] = s.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: ",")[0] }
        }
        XCTAssertEqual(scores["float16"], scores["float32"], "the same 20 transactions, in the same order")
    }
}
