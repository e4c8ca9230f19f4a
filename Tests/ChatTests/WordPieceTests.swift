import Foundation
import XCTest
import LeptonEngine
@testable import LeptonText

/// Reference outputs of sentence-transformers (`shared/data/minilm-reference.jsonl`), shared by the
/// tokenizer and encoder tests.
struct MiniLMReference {
    let id: String, text: String, tokens: [String], inputIDs: [Int32], untruncatedLength: Int, embedding: [Float]

    static var sharedFolder: URL {
        // Tests/ChatTests/<file> → repository root → ../shared
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    }

    static func load() throws -> [MiniLMReference] {
        let url = sharedFolder.appendingPathComponent("data/minilm-reference.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return MiniLMReference(
                id: try XCTUnwrap(o["id"] as? String), text: try XCTUnwrap(o["text"] as? String),
                tokens: try XCTUnwrap(o["tokens"] as? [String]),
                inputIDs: try XCTUnwrap(o["input_ids"] as? [Int]).map(Int32.init),
                untruncatedLength: try XCTUnwrap(o["untruncated_length"] as? Int),
                embedding: try XCTUnwrap(o["embedding"] as? [Double]).map(Float.init))
        }
    }
}

final class WordPieceTests: XCTestCase {
    func tokenizer() throws -> WordPieceTokenizer {
        let vocab = ModelCache.miniLM.appendingPathComponent("vocab.txt")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: vocab.path), "run scripts/bootstrap.sh first")
        return try WordPieceTokenizer(vocabularyFile: vocab)
    }

    func testIdsMatchSentenceTransformersOnAllReferenceCases() throws {
        let tok = try tokenizer()
        let refs = try MiniLMReference.load()
        XCTAssertEqual(refs.count, 25)
        for r in refs {
            XCTAssertEqual(tok.encode(r.text), r.inputIDs, "ids of \(r.id)")
            XCTAssertEqual(tok.tokenStrings(r.text), r.tokens, "tokens of \(r.id)")
            XCTAssertEqual(tok.untruncatedLength(r.text), r.untruncatedLength, "untruncated length of \(r.id)")
        }
    }

    func testSpecExamples() throws {
        // Examples stated in shared/specs/minilm.md §4.
        let tok = try tokenizer()
        func pieces(_ s: String) -> [String] { Array(tok.tokenStrings(s).dropFirst().dropLast()) }
        XCTAssertEqual(pieces("arri\u{200B}val"), ["arrival"])
        XCTAssertEqual(pieces("£1,250.50"), ["£1", ",", "250", ".", "50"])
        XCTAssertEqual(pieces("₹500"), ["₹", "##500"])
        XCTAssertEqual(pieces("$1,600"), ["$", "1", ",", "600"])
        XCTAssertEqual(pieces("12345678"), ["123", "##45", "##6", "##7", "##8"])
        XCTAssertEqual(pieces("thanks👍"), ["[UNK]"])
        XCTAssertEqual(tok.encode(""), [101, 102])
        XCTAssertEqual(tok.encode(" \t\n\u{A0} "), [101, 102])
        XCTAssertEqual(pieces(String(repeating: "a", count: 101)), ["[UNK]"])
    }

    func testTruncationKeepsFirst254Pieces() throws {
        let tok = try tokenizer()
        let ids = tok.encode(String(repeating: "card ", count: 300))
        XCTAssertEqual(ids.count, 256)
        XCTAssertEqual(ids.first, 101)
        XCTAssertEqual(ids.last, 102)
        XCTAssertEqual(tok.untruncatedLength(String(repeating: "card ", count: 300)), 302)
    }
}

extension WordPieceTokenizer {
    /// The token strings of `encode(text)` (what sentence-transformers' tokenizer lists).
    func tokenStrings(_ text: String) -> [String] { encode(text).map { tokens[Int($0)] } }
}
