import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A radiology report reduced to its named text sections (e.g. FINDINGS, IMPRESSION).
public struct RadiologyReport: Sendable {
    public let file: String
    /// Section name → text, in document order.
    public let sections: [(name: String, text: String)]

    /// All section texts joined, for finding extraction.
    public var text: String { sections.map(\.text).filter { !$0.isEmpty }.joined(separator: "\n") }
}

/// Reads reports: XML with configurable section selectors (default: the IU / Open-i
/// `ecgen-radiology` schema) or plain text.
///
/// A selector is `//Element` or `//Element[@attribute='value']` (the XPath subset reports need);
/// the section text is the concatenated text of every matching element. External entities and
/// DTDs are never loaded; files over 8 MiB are refused.
public struct ReportReader: Sendable {
    /// Section name → selector.
    public var selectors: [(name: String, selector: String)]

    /// The IU / Open-i layout: `AbstractText@Label` in FINDINGS and IMPRESSION.
    public static let openI: [(name: String, selector: String)] = [
        ("FINDINGS", "//AbstractText[@Label='FINDINGS']"),
        ("IMPRESSION", "//AbstractText[@Label='IMPRESSION']"),
    ]

    public init(selectors: [(name: String, selector: String)] = ReportReader.openI) { self.selectors = selectors }

    /// Parses `NAME=//Element[@attr='value']` strings (for a command-line option).
    public static func parseSelectors(_ specs: [String]) throws -> [(name: String, selector: String)] {
        try specs.map { s in
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw DiagnoseError.usage("section selector '\(s)' must look like NAME=//Element[@attr='value']")
            }
            let sel = String(s[s.index(after: eq)...])
            _ = try Selector(sel)
            return (String(s[..<eq]), sel)
        }
    }

    public func read(_ url: URL) throws -> RadiologyReport {
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let size = attrs?[.size] as? Int, size > 8 << 20 { throw DiagnoseError.badReport(file: url.path, reason: "larger than 8 MiB") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DiagnoseError.badReport(file: url.path, reason: error.localizedDescription)
        }
        return try read(data: data, name: url.path)
    }

    /// Reads report bytes: XML when they start with `<` (after white space / BOM), else plain text.
    public func read(data: Data, name: String) throws -> RadiologyReport {
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
            throw DiagnoseError.badReport(file: name, reason: "not text")
        }
        let trimmed = text.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" })
        if trimmed.hasPrefix("<") { return try readXML(data, name: name) }
        return RadiologyReport(file: name, sections: ReportReader.plainSections(text))
    }

    /// Plain text: `FINDINGS:` / `IMPRESSION:` style headings split sections; otherwise one section.
    static func plainSections(_ text: String) -> [(name: String, text: String)] {
        var out: [(name: String, text: String)] = []
        var name = "TEXT", cur: [String] = []
        let heading = try? NSRegularExpression(pattern: #"^\s*([A-Z][A-Z ]{2,30}):\s*(.*)$"#)
        for line in text.components(separatedBy: .newlines) {
            let ns = line as NSString
            if let m = heading?.firstMatch(in: line, range: NSRange(location: 0, length: ns.length)) {
                if !cur.joined().trimmingCharacters(in: .whitespaces).isEmpty { out.append((name, cur.joined(separator: "\n"))) }
                name = ns.substring(with: m.range(at: 1)).trimmingCharacters(in: .whitespaces)
                cur = [ns.substring(with: m.range(at: 2))]
            } else {
                cur.append(line)
            }
        }
        if !cur.joined().trimmingCharacters(in: .whitespaces).isEmpty { out.append((name, cur.joined(separator: "\n"))) }
        // Metadata-like sections never reach finding extraction.
        return out.filter { !["NAME", "PATIENT", "MRN", "DOB", "DATE", "ID", "PATIENT ID", "ACCESSION"].contains($0.name) }
            .map { ($0.name, $0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    struct Selector {
        let element: String
        let attribute: (String, String)?
        init(_ s: String) throws {
            var body = Substring(s)
            while body.hasPrefix("/") { body = body.dropFirst() }
            if let open = body.firstIndex(of: "[") {
                element = String(body[..<open])
                guard body.hasSuffix("]") else { throw DiagnoseError.usage("selector '\(s)': missing ]") }
                let pred = body[body.index(after: open)..<body.index(before: body.endIndex)]
                guard pred.hasPrefix("@"), let eq = pred.firstIndex(of: "=") else { throw DiagnoseError.usage("selector '\(s)': use [@attr='value']") }
                let attr = String(pred[pred.index(after: pred.startIndex)..<eq])
                let value = pred[pred.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                attribute = (attr, value)
            } else {
                element = String(body); attribute = nil
            }
            guard !element.isEmpty, !element.contains("/") else { throw DiagnoseError.usage("selector '\(s)': only //Element[@attr='value'] is supported") }
        }
        func matches(_ name: String, _ attrs: [String: String]) -> Bool {
            guard name == element else { return false }
            if let (a, v) = attribute { return attrs[a] == v }
            return true
        }
    }

    func readXML(_ data: Data, name: String) throws -> RadiologyReport {
        let sels = try selectors.map { (name: $0.name, sel: try Selector($0.selector)) }
        if let head = String(data: data.prefix(4096), encoding: .utf8), head.contains("<!ENTITY") || head.contains("<!DOCTYPE") {
            // Reports have no reason to declare entities; refusing them rules out XXE and entity bombs.
            throw DiagnoseError.badReport(file: name, reason: "XML with a DOCTYPE/ENTITY declaration is refused")
        }
        let collector = SectionCollector(selectors: sels.map(\.sel))
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = collector
        guard parser.parse(), !collector.failed, collector.stack.isEmpty, collector.sawRoot else {
            throw DiagnoseError.badReport(file: name, reason: "malformed XML: \(parser.parserError.map { "\($0)" } ?? "unknown error")")
        }
        let sections = sels.enumerated().map { (i, s) in
            (name: s.name, text: collector.texts[i].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return RadiologyReport(file: name, sections: sections)
    }
}

/// SAX delegate gathering the text of elements that match each selector.
final class SectionCollector: NSObject, XMLParserDelegate {
    let selectors: [ReportReader.Selector]
    var texts: [[String]]
    var stack: [(Int?, String, String)] = []  // matched selector index (if any), accumulated text, element name
    var failed = false
    var sawRoot = false

    init(selectors: [ReportReader.Selector]) {
        self.selectors = selectors
        texts = Array(repeating: [], count: selectors.count)
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        let idx = selectors.firstIndex { $0.matches(elementName, attributes) }
        stack.append((idx, "", elementName))
        sawRoot = true
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        // Text counts towards every open matching ancestor.
        for i in stack.indices where stack[i].0 != nil { stack[i].1 += string }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard let (idx, text, name) = stack.popLast(), name == elementName else { failed = true; return }
        if let i = idx { texts[i].append(text) }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { failed = true }
}
