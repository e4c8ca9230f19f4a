// XMLDocument.swift: a parsed XML document (libxml2), loaded with every external and entity feature off.

import CLibXML2
import Foundation

/// Limits applied before and during parsing.
public struct XMLLimits: Sendable, Equatable {
    /// Largest accepted document in bytes (default 64 MiB).
    public var maxBytes: Int

    public init(maxBytes: Int = 64 << 20) { self.maxBytes = maxBytes }

    public static let `default` = XMLLimits()
}

/// A parsed XML document. Owns libxml2's `xmlDoc` and frees it when the last reference
/// (including any ``XMLNode`` taken from it) goes away.
///
/// Parsing is locked down: no network (`XML_PARSE_NONET`), no DTD loading, no entity substitution,
/// no XInclude, libxml2's default depth/size limits (`XML_PARSE_HUGE` off). On top of that, any
/// entity declaration in the DTD stops the parser (``XMLError/entityDeclarationRefused(path:line:name:)``)
/// and any remaining entity reference is refused, so XXE (`file:///etc/passwd`, `http://...`) and
/// "billion laughs" documents fail quickly with a typed error. libxml2's messages are captured per
/// parser context (never printed).
///
/// ```swift
/// let doc = try XMLDocument(contentsOf: url)
/// let findings = try doc.string("//AbstractText[@Label='FINDINGS']")
/// ```
/// Not thread-safe: use one document per thread (or only read from several).
public final class XMLDocument {
    /// The file path or the name given for in-memory data (used in errors).
    public let name: String
    let doc: xmlDocPtr

    /// Parses the file at `url`.
    /// - Throws: ``XMLError`` naming the file.
    public convenience init(contentsOf url: URL, limits: XMLLimits = .default) throws {
        let path = url.path
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw XMLError.fileNotFound(path: path) }
        if Int(st.st_size) > limits.maxBytes { throw XMLError.tooLarge(path: path, bytes: Int(st.st_size), limit: limits.maxBytes) }
        guard let data = FileManager.default.contents(atPath: path) else { throw XMLError.fileNotFound(path: path) }
        try self.init(data: data, name: path, limits: limits)
    }

    /// Parses a UTF-8 string.
    public convenience init(string: String, name: String = "<memory>", limits: XMLLimits = .default) throws {
        try self.init(data: Data(string.utf8), name: name, limits: limits)
    }

    /// Parses XML held in memory; `name` labels errors.
    public init(data: Data, name: String = "<memory>", limits: XMLLimits = .default) throws {
        self.name = name
        if data.isEmpty { throw XMLError.emptyDocument(path: name) }
        if data.count > limits.maxBytes { throw XMLError.tooLarge(path: name, bytes: data.count, limit: limits.maxBytes) }
        guard data.count <= Int(Int32.max) else { throw XMLError.tooLarge(path: name, bytes: data.count, limit: Int(Int32.max)) }
        doc = try XMLParsing.parse(data, name: name)
    }

    deinit { xmlFreeDoc(doc) }

    /// The root element.
    public var root: XMLNode? {
        guard let node = xmlDocGetRootElement(doc) else { return nil }
        return XMLNode(node, document: self)
    }
}

/// The locked-down parse, its SAX hooks and error capture.
enum XMLParsing {
    /// What the callbacks saw during one parse (reached through the parser context's `_private`).
    final class Sink {
        var refusal: (kind: Int, line: Int, detail: String)?
        var firstError: (line: Int, column: Int, message: String)?
    }

    static let options: Int32 = Int32(XML_PARSE_NONET.rawValue) | Int32(XML_PARSE_NOCDATA.rawValue)
        | Int32(XML_PARSE_NOWARNING.rawValue) | Int32(XML_PARSE_NOERROR.rawValue)

    static func sink(_ ctx: UnsafeMutableRawPointer?) -> (xmlParserCtxtPtr, Sink)? {
        guard let ctx else { return nil }
        let ctxt = ctx.assumingMemoryBound(to: xmlParserCtxt.self)
        guard let raw = ctxt.pointee._private else { return nil }
        return (ctxt, Unmanaged<Sink>.fromOpaque(raw).takeUnretainedValue())
    }

    static func currentLine(_ ctxt: xmlParserCtxtPtr) -> Int {
        guard let input = ctxt.pointee.input else { return 0 }
        return Int(input.pointee.line)
    }

    /// Frees memory libxml2 allocated for us, through its own deallocator (`xmlFree`).
    static func release(_ p: UnsafeMutablePointer<xmlChar>?) {
        // `xmlFree` is a global variable (Swift 6 refuses to read it); xmlMemGet hands out its value.
        var free: xmlFreeFunc?
        xmlMemGet(&free, nil, nil, nil)
        free?(p)
    }

    static func text(_ p: UnsafePointer<xmlChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    /// Parses `data`, returning the document or throwing the first refusal / error.
    static func parse(_ data: Data, name: String) throws -> xmlDocPtr {
        xmlInitParser()
        guard let ctxt = xmlNewParserCtxt() else { throw XMLError.malformed(path: name, line: 0, column: 0, message: "cannot create a parser") }
        defer { xmlFreeParserCtxt(ctxt) }
        let sink = Sink()
        ctxt.pointee._private = Unmanaged.passUnretained(sink).toOpaque()
        if let sax = ctxt.pointee.sax {
            // Any entity declaration (general or parameter, internal or external) stops the parse.
            sax.pointee.entityDecl = { ctx, name, _, _, _, _ in
                guard let (ctxt, sink) = XMLParsing.sink(ctx) else { return }
                if sink.refusal == nil { sink.refusal = (0, XMLParsing.currentLine(ctxt), XMLParsing.text(name)) }
                xmlStopParser(ctxt)
            }
            sax.pointee.unparsedEntityDecl = { ctx, name, _, _, _ in
                guard let (ctxt, sink) = XMLParsing.sink(ctx) else { return }
                if sink.refusal == nil { sink.refusal = (0, XMLParsing.currentLine(ctxt), XMLParsing.text(name)) }
                xmlStopParser(ctxt)
            }
            // Never resolve or load anything external (DTDs, entities).
            sax.pointee.resolveEntity = { ctx, publicId, systemId in
                guard let (ctxt, sink) = XMLParsing.sink(ctx) else { return nil }
                let uri = systemId.map { String(cString: $0) } ?? publicId.map { String(cString: $0) } ?? "?"
                if sink.refusal == nil { sink.refusal = (2, XMLParsing.currentLine(ctxt), uri) }
                xmlStopParser(ctxt)
                return nil
            }
            sax.pointee.externalSubset = nil
            // Structured errors go to the sink instead of stderr (per context; no global handler).
            sax.pointee.serror = { userData, error in
                guard let (_, sink) = XMLParsing.sink(userData), let error else { return }
                let e = error.pointee
                if e.level.rawValue >= XML_ERR_ERROR.rawValue && sink.firstError == nil {
                    let message = e.message.map { String(cString: $0) } ?? "unknown error"
                    // Some of libxml2's messages run over two lines ("…indicate encoding !\nBytes: 0xE9…"):
                    // the error stays one line.
                    let oneLine = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty }.joined(separator: " ")
                    sink.firstError = (Int(e.line), Int(e.int2), oneLine)
                }
            }
        }
        let parsed = data.withUnsafeBytes { raw -> xmlDocPtr? in
            raw.withMemoryRebound(to: CChar.self) { chars in
                xmlCtxtReadMemory(ctxt, chars.baseAddress, Int32(chars.count), name, nil, options)
            }
        }
        if let refusal = sink.refusal {
            if let parsed { xmlFreeDoc(parsed) }
            switch refusal.kind {
            case 0: throw XMLError.entityDeclarationRefused(path: name, line: refusal.line, name: refusal.detail)
            default: throw XMLError.externalResourceRefused(path: name, line: refusal.line, uri: refusal.detail)
            }
        }
        guard let doc = parsed, ctxt.pointee.wellFormed != 0 else {
            if let parsed { xmlFreeDoc(parsed) }
            let e = sink.firstError ?? (currentLine(ctxt), 0, "not well-formed")
            throw XMLError.malformed(path: name, line: e.line, column: e.column, message: e.message)
        }
        if let (line, entity) = firstEntityReference(in: doc) {
            xmlFreeDoc(doc)
            throw XMLError.entityReferenceRefused(path: name, line: line, name: entity)
        }
        return doc
    }

    /// The first entity-reference node in document order (explicit stack: deep documents cannot overflow it).
    static func firstEntityReference(in doc: xmlDocPtr) -> (Int, String)? {
        var stack: [xmlNodePtr] = []
        var child = doc.pointee.children
        while let c = child { stack.append(c); child = c.pointee.next }
        stack.reverse()
        while let node = stack.popLast() {
            if node.pointee.type == XML_ENTITY_REF_NODE || node.pointee.type == XML_ENTITY_NODE {
                return (Int(xmlGetLineNo(node)), text(node.pointee.name))
            }
            guard node.pointee.type == XML_ELEMENT_NODE else { continue }
            var children: [xmlNodePtr] = []
            var c = node.pointee.children
            while let n = c { children.append(n); c = n.pointee.next }
            stack.append(contentsOf: children.reversed())
        }
        return nil
    }
}
