// Test helpers: data locations, a small CSV reader, a regex-based field extractor independent of libxml2.

import Foundation
import XCTest
import LeptonReport

enum ReportFixtures {
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var iuXray: URL { repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/medical/iu-xray") }

    /// Rows of a CSV file (RFC 4180 quoting), header included.
    static func csv(_ url: URL) throws -> [[String]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw XCTSkip("missing \(url.path)") }
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", chars.first == "\n" { chars.removeFirst() }
                row.append(field); field = ""
                rows.append(row); row = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// The text of `<AbstractText Label="label">` found by a regular expression on the raw bytes
    /// (no XML parser), with the five predefined entities and numeric references decoded.
    static func abstractText(_ raw: String, label: String) -> String? {
        let pattern = "<AbstractText Label=\"\(label)\"(?:/>|>(.*?)</AbstractText>)"
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]),
              let match = regex.firstMatch(in: raw, range: NSRange(raw.startIndex..., in: raw)) else { return nil }
        guard let range = Range(match.range(at: 1), in: raw) else { return "" }
        var text = String(raw[range])
        if let numeric = try? NSRegularExpression(pattern: "&#(x?)([0-9A-Fa-f]+);") {
            for m in numeric.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
                let hex = Range(m.range(at: 1), in: text).map { !text[$0].isEmpty } ?? false
                let digits = Range(m.range(at: 2), in: text).map { String(text[$0]) } ?? ""
                if let v = UInt32(digits, radix: hex ? 16 : 10), let scalar = Unicode.Scalar(v), let r = Range(m.range, in: text) {
                    text.replaceSubrange(r, with: String(Character(scalar)))
                }
            }
        }
        for (entity, char) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: entity, with: char)
        }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}

@discardableResult
func assertXMLError<T>(_ body: @autoclosure () throws -> T, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                       _ matches: (XMLError) -> Bool) -> XMLError? {
    do {
        _ = try body()
        XCTFail("\(what): expected an XMLError, got success", file: file, line: line)
    } catch let error as XMLError {
        XCTAssertTrue(matches(error), "\(what): unexpected \(error)", file: file, line: line)
        print("[\(what)] \(error)")
        return error
    } catch {
        XCTFail("\(what): expected an XMLError, got \(error)", file: file, line: line)
    }
    return nil
}
