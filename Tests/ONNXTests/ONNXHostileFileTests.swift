import Foundation
import XCTest
import LeptonEngine
@testable import LeptonONNX

/// Files a user might hand the loader that it must refuse with a typed, one-line error, without
/// crashing or allocating what the file claims.
final class ONNXHostileFileTests: XCTestCase {
    func load(_ name: String) throws -> ONNXModel { try ONNXModel(contentsOf: try ONNXFixtures.url("hostile/\(name).onnx")) }

    /// Loads and plans `name` for `x: [1, 4]`, returning the error.
    func refusal(_ name: String) throws -> ONNXError {
        do {
            let model = try load(name)
            _ = try model.plan(inputShapes: ["x": [1, 4]])
        } catch let e as ONNXError {
            XCTAssertFalse(e.description.contains("\n"), "one line: \(e)")
            return e
        }
        XCTFail("\(name) was accepted")
        throw CocoaError(.featureUnsupported)
    }

    func testUnknownOperatorNamesOpAndNode() throws {
        let e = try refusal("unknown_op")
        XCTAssertEqual(e, .unsupportedOperator(op: "FancyActivation", node: "mystery_node", reason: nil))
        XCTAssertEqual(e.description, "unsupported operator FancyActivation (node 'mystery_node')")
    }

    func testCycleIsRefused() throws {
        guard case let .cycle(node) = try refusal("cycle") else { return XCTFail("not a cycle error") }
        XCTAssertTrue(["add_a", "relu_b"].contains(node), node)
    }

    func testHugeDimensionsAreRefusedBeforeAllocating() throws {
        guard case let .tensorTooLarge(tensor, dims, _) = try refusal("huge_dims") else { return XCTFail("not a size error") }
        XCTAssertEqual(tensor, "w")
        XCTAssertEqual(dims, [1 << 40, 1 << 20])
    }

    func testWrongShapedInitializerIsRefusedAtLoad() throws {
        guard case let .shapeMismatch(node, op, _) = try refusal("wrong_shape") else { return XCTFail("not a shape error") }
        XCTAssertEqual(node, "fc"); XCTAssertEqual(op, "Gemm")
    }

    func testMissingInputIsNamed() throws {
        XCTAssertEqual(try refusal("missing_input"), .missingInput(tensor: "nowhere", node: "add_missing"))
    }

    func testUnsupportedOpsetIsRefused() throws {
        XCTAssertEqual(try refusal("opset_too_new"), .unsupportedOpset(domain: "", version: 99))
    }

    func testInitializerShorterThanItsDims() throws {
        guard case let .badTensor(tensor, reason) = try refusal("short_initializer") else { return XCTFail("not a tensor error") }
        XCTAssertEqual(tensor, "w"); XCTAssertTrue(reason.contains("16"), reason)
    }

    func testTruncatedFileIsMalformed() throws {
        guard case .malformed = try refusal("truncated") else { return XCTFail("not malformed") }
    }

    /// Every prefix length of a real model (in steps) either loads or fails with a typed error.
    func testEveryTruncationOfARealModelIsATypedError() throws {
        let data = try Data(contentsOf: try ONNXFixtures.url("scan_cnn.onnx"))
        var refused = 0
        for cut in stride(from: 0, to: data.count, by: 997) {
            do {
                let m = try ONNXModel(data: data.prefix(cut), file: "cut\(cut)")
                _ = try m.plan(inputShapes: ["image": [1, 1, 28, 28]])
            } catch is ONNXError { refused += 1 }
        }
        XCTAssertGreaterThan(refused, data.count / 997 - 2)
    }

    func testRandomBytesAreMalformed() throws {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<50 {
            let bytes = Data((0..<Int.random(in: 1...4096, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            XCTAssertThrowsError(try ONNXModel(data: bytes, file: "random")) { XCTAssertTrue($0 is ONNXError, "\($0)") }
        }
    }

    func testFileLargerThanTheLimitIsNotRead() throws {
        var limits = ONNXLimits()
        limits.maxFileBytes = 1000
        XCTAssertThrowsError(try ONNXModel(contentsOf: try ONNXFixtures.url("scan_cnn.onnx"), limits: limits)) { error in
            guard case .fileTooLarge? = error as? ONNXError else { return XCTFail("\(error)") }
        }
    }

    func testAbsurdInputShapeIsRefusedWhenPlanning() throws {
        let model = try ONNXFixtures.model("minilm.onnx")
        XCTAssertThrowsError(try model.plan(inputShapes: ["input_ids": [1 << 20, 1 << 20], "attention_mask": [1 << 20, 1 << 20]])) { error in
            guard case .tensorTooLarge? = error as? ONNXError else { return XCTFail("\(error)") }
        }
        // A sequence past the position table (512) is a shape error, not a crash.
        XCTAssertThrowsError(try model.plan(inputShapes: ["input_ids": [1, 600], "attention_mask": [1, 600]])) { error in
            XCTAssertTrue(error is ONNXError, "\(error)")
        }
    }

    func testOutOfRangeTokenIdIsAnInputError() throws {
        let model = try ONNXFixtures.model("minilm.onnx")
        let ids = IntTensor(shape: [1, 3], values: [101, 999_999, 102])
        XCTAssertThrowsError(try model.run(["input_ids": .int64(ids), "attention_mask": .int64(IntTensor(shape: [1, 3], repeating: 1))])) { error in
            guard case let .badInput(name, reason)? = error as? ONNXError else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "input_ids"); XCTAssertTrue(reason.contains("999999"), reason)
        }
    }

    func testWrongInputShapeForAFixedModel() throws {
        let model = try ONNXFixtures.model("scan_cnn.onnx")
        XCTAssertThrowsError(try model.plan(inputShapes: ["image": [1, 1, 32, 32]])) { error in
            guard case .badInput("image", _)? = error as? ONNXError else { return XCTFail("\(error)") }
        }
    }
}
