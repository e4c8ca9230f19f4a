import Foundation
import LeptonReport

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
/// A selector is any XPath 1.0 expression evaluated by LeptonReport (libxml2), e.g.
/// `//AbstractText[@Label='FINDINGS']` or `/report/section[2]/text()`; the section text is the
/// text of every selected node joined by line breaks. Parsing is locked down (no network, no DTD
/// loading, entity declarations and references refused); files over 8 MiB are refused.
public struct ReportReader: Sendable {
    /// Section name → selector.
    public var selectors: [(name: String, selector: String)]

    /// The IU / Open-i layout: `AbstractText@Label` in FINDINGS and IMPRESSION.
    public static let openI: [(name: String, selector: String)] = [
        ("FINDINGS", "//AbstractText[@Label='FINDINGS']"),
        ("IMPRESSION", "//AbstractText[@Label='IMPRESSION']"),
    ]

    public init(selectors: [(name: String, selector: String)] = ReportReader.openI) { self.selectors = selectors }

    /// Parses `NAME=XPATH` strings (for a command-line option).
    public static func parseSelectors(_ specs: [String]) throws -> [(name: String, selector: String)] {
        try specs.map { s in
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw DiagnoseError.usage("section selector '\(s)' must look like NAME=XPATH, e.g. FINDINGS=//AbstractText[@Label='FINDINGS']")
            }
            let sel = String(s[s.index(after: eq)...])
            try validate(sel)
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
    /// - Throws: ``DiagnoseError/emptyReport(file:reason:)`` when there is no report text at all
    ///   (an empty file must not read as a normal report), `badReport` when it cannot be read.
    public func read(data: Data, name: String) throws -> RadiologyReport {
        if data.isEmpty { throw DiagnoseError.emptyReport(file: name, reason: "the file is empty (0 bytes)") }
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
            throw DiagnoseError.badReport(file: name, reason: "not text")
        }
        let trimmed = text.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" || $0 == "\0" })
        if trimmed.isEmpty { throw DiagnoseError.emptyReport(file: name, reason: "the file holds only white space") }
        let report = trimmed.hasPrefix("<") ? try readXML(data, name: name)
            : RadiologyReport(file: name, sections: ReportReader.plainSections(text))
        guard report.sections.contains(where: { !$0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) else {
            throw DiagnoseError.emptyReport(file: name, reason: trimmed.hasPrefix("<")
                ? "no text in \(selectors.map(\.name).joined(separator: ", "))" : "only metadata headings (name, MRN, date …), no report text")
        }
        return report
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

    /// Compiles `selector` once against an empty document so a bad XPath fails at option parsing.
    static func validate(_ selector: String) throws {
        do {
            let probe = try XMLDocument(string: "<probe/>", name: "<selector check>")
            _ = try probe.evaluate(selector)
        } catch let e as XMLError {
            throw DiagnoseError.usage("section selector: \(e)")
        }
    }

    /// Parses with LeptonReport's locked-down libxml2 (no network, no DTD, no entities: XXE and
    /// entity bombs are refused with a typed error) and evaluates each section's XPath.
    func readXML(_ data: Data, name: String) throws -> RadiologyReport {
        let doc: XMLDocument
        do { doc = try XMLDocument(data: data, name: name, limits: XMLLimits(maxBytes: 8 << 20)) } catch let e as XMLError {
            throw DiagnoseError.badReport(file: name, reason: ReportReader.reason(e, file: name))
        }
        var sections: [(name: String, text: String)] = []
        for (section, selector) in selectors {
            let texts: [String]
            do {
                switch try doc.evaluate(selector) {
                // Raw text (not whitespace-collapsed): line breaks inside a section still separate sentences.
                case .nodes(let nodes): texts = nodes.map(\.rawText)
                case .string(let s): texts = [s]
                case .number, .boolean:
                    throw DiagnoseError.usage("section selector '\(selector)' must select nodes or text, not a number or boolean")
                }
            } catch let e as XMLError {
                throw DiagnoseError.usage("section \(section): \(e)")
            }
            sections.append((section, texts.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return RadiologyReport(file: name, sections: sections)
    }

    /// The XML error without the file prefix (``DiagnoseError/badReport(file:reason:)`` adds it).
    static func reason(_ error: XMLError, file: String) -> String {
        let text = error.description
        return text.hasPrefix(file + ":") ? String(text.dropFirst(file.count + 1)).trimmingCharacters(in: .whitespaces) : text
    }
}
