// XMLNode.swift: a node of an XMLDocument (element, text, attribute, ...), with text and attribute access.

import CLibXML2
import Foundation

/// A node inside an ``XMLDocument``. Holds its document alive; cheap to copy.
public struct XMLNode: CustomStringConvertible {
    /// Kinds of node the API distinguishes.
    public enum Kind: Sendable, Equatable {
        case element, text, attribute, comment, processingInstruction, document, other
    }

    let pointer: xmlNodePtr
    /// The owning document (kept alive by this reference).
    public let document: XMLDocument

    init(_ pointer: xmlNodePtr, document: XMLDocument) {
        self.pointer = pointer
        self.document = document
    }

    /// What kind of node this is.
    public var kind: Kind {
        switch pointer.pointee.type {
        case XML_ELEMENT_NODE: return .element
        case XML_TEXT_NODE, XML_CDATA_SECTION_NODE: return .text
        case XML_ATTRIBUTE_NODE: return .attribute
        case XML_COMMENT_NODE: return .comment
        case XML_PI_NODE: return .processingInstruction
        case XML_DOCUMENT_NODE: return .document
        default: return .other
        }
    }

    /// Local name (without prefix); "text" for text nodes.
    public var name: String { XMLParsing.text(pointer.pointee.name) }

    /// Namespace URI of an element or attribute, if any.
    public var namespaceURI: String? {
        guard let ns = pointer.pointee.ns, let href = ns.pointee.href else { return nil }
        return String(cString: href)
    }

    /// 1-based source line (elements and text nodes; 0 if unknown).
    public var line: Int { Int(xmlGetLineNo(pointer)) }

    /// All text inside this node, exactly as in the document (entities already resolved to characters).
    public var rawText: String {
        guard let content = xmlNodeGetContent(pointer) else { return "" }
        defer { XMLParsing.release(content) }
        return String(cString: content)
    }

    /// All text inside this node with whitespace runs collapsed to one space and trimmed.
    public var text: String { XMLNode.normalizeWhitespace(rawText) }

    /// The value of attribute `name` (no namespace), or `nil`.
    public func attribute(_ name: String) -> String? {
        guard pointer.pointee.type == XML_ELEMENT_NODE, let value = xmlGetNoNsProp(pointer, name) else { return nil }
        defer { XMLParsing.release(value) }
        return String(cString: value)
    }

    /// The value of attribute `name` in namespace `namespaceURI`, or `nil`.
    public func attribute(_ name: String, namespaceURI: String) -> String? {
        guard pointer.pointee.type == XML_ELEMENT_NODE, let value = xmlGetNsProp(pointer, name, namespaceURI) else { return nil }
        defer { XMLParsing.release(value) }
        return String(cString: value)
    }

    /// Attributes as (local name, value) pairs in document order.
    public var attributes: [(name: String, value: String)] {
        guard pointer.pointee.type == XML_ELEMENT_NODE else { return [] }
        var out: [(String, String)] = []
        var attr = pointer.pointee.properties
        while let a = attr {
            let name = XMLParsing.text(a.pointee.name)
            let value: String
            if let v = xmlNodeListGetString(pointer.pointee.doc, a.pointee.children, 1) {
                value = String(cString: v)
                XMLParsing.release(v)
            } else {
                value = ""
            }
            out.append((name, value))
            attr = a.pointee.next
        }
        return out
    }

    /// Element children in document order.
    public var children: [XMLNode] {
        var out: [XMLNode] = []
        var child = pointer.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE { out.append(XMLNode(c, document: document)) }
            child = c.pointee.next
        }
        return out
    }

    /// Element children called `name`.
    public func children(named name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// The parent element (nil for the root element).
    public var parent: XMLNode? {
        guard let p = pointer.pointee.parent, p.pointee.type == XML_ELEMENT_NODE else { return nil }
        return XMLNode(p, document: document)
    }

    public var description: String {
        kind == .element ? "<\(name)> (line \(line))" : "\(kind) \(text.prefix(40))"
    }

    /// Collapses runs of XML whitespace (space, tab, CR, LF) to one space and trims the ends.
    public static func normalizeWhitespace(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        var pendingSpace = false
        for scalar in s.unicodeScalars {
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
