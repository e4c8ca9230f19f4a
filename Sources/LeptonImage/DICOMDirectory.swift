import Foundation

/// A DICOMDIR (PS3.10 media directory): the files it lists, each with the study and series it
/// belongs to, found by following the directory records' offsets from the root.
///
/// Hardened: every offset must name the start of a record of the Directory Record Sequence, each
/// record is visited once (a next/lower-level offset that loops back is an error naming it),
/// nesting is bounded, and a referenced file ID must be plain relative components (no `..`, no
/// separators), so a directory cannot point outside its folder.
public struct DICOMDirectory: Sendable {
    /// One record with a Referenced File ID (IMAGE and other leaf records).
    public struct Entry: Sendable, Equatable {
        /// Path components relative to the DICOMDIR's folder.
        public let path: [String]
        /// Directory Record Type (IMAGE, SR DOCUMENT …).
        public let recordType: String
        public let studyUID: String?
        public let seriesUID: String?
        public let instanceNumber: Int?
    }

    public let entries: [Entry]

    /// Most records accepted (a DVD of CT series holds tens of thousands).
    public static let maxRecords = 1 << 20
    /// Deepest nesting of lower-level records followed (PATIENT, STUDY, SERIES, IMAGE and a margin).
    public static let maxDepth = 8

    static let directoryRecordSequence = DICOMTag(0x0004, 0x1220)
    static let firstRootRecord = DICOMTag(0x0004, 0x1200)
    static let nextRecord = DICOMTag(0x0004, 0x1400)
    static let lowerLevelRecord = DICOMTag(0x0004, 0x1420)
    static let recordType = DICOMTag(0x0004, 0x1430)
    static let referencedFileID = DICOMTag(0x0004, 0x1500)

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DICOMError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        try self.init(bytes: [UInt8](data), file: url.path)
    }

    public init(bytes: [UInt8], file: String = "DICOMDIR") throws {
        func bad(_ reason: String) -> DICOMError { .badAttribute(file: file, attribute: "DICOMDIR", reason: reason) }
        guard bytes.count >= 132, bytes[128] == 0x44, bytes[129] == 0x49, bytes[130] == 0x43, bytes[131] == 0x4D else {
            throw DICOMError.notDICOM(file: file)
        }
        // Media files are explicit VR little endian throughout (PS3.10 7.1).
        var p = DICOMParser(bytes: bytes, file: file, explicit: true, bigEndian: false)
        p.offset = 132
        var top: [DICOMTag: DICOMElement] = [:]
        var records: [Int: [DICOMTag: DICOMElement]] = [:]
        while p.offset + 8 <= bytes.count {
            let at = p.offset
            let tag = try p.tag("element tag")
            guard tag == DICOMDirectory.directoryRecordSequence else {
                p.offset = at
                guard let e = try p.readElement(depth: 0) else { break }
                top[e.tag] = e
                continue
            }
            // The record sequence: kept item by item, keyed by the byte offset of each item tag.
            p.offset += 4  // "SQ" and two reserved bytes
            let length = try p.u32("length of the directory record sequence")
            let end = length == 0xFFFF_FFFF ? bytes.count : p.offset + Int(length)
            guard end <= bytes.count else { throw DICOMError.absurdLength(file: file, tag: tag.description, length: length, offset: at) }
            while p.offset < end {
                let itemAt = p.offset
                let t = try p.tag("directory record")
                let len = try p.u32("directory record length")
                if t == .sequenceDelimitation { break }
                guard t == .item else { throw bad("expected a directory record at byte \(itemAt), found \(t)") }
                guard records.count < DICOMDirectory.maxRecords else { throw bad("more than \(DICOMDirectory.maxRecords) directory records") }
                var record: [DICOMTag: DICOMElement] = [:]
                if len == 0xFFFF_FFFF {
                    while let e = try p.readElement(depth: 1) { record[e.tag] = e }
                } else {
                    guard Int(len) <= end - p.offset else { throw DICOMError.absurdLength(file: file, tag: "directory record", length: len, offset: itemAt) }
                    let itemEnd = p.offset + Int(len)
                    while p.offset < itemEnd {
                        guard let e = try p.readElement(depth: 1) else { break }
                        record[e.tag] = e
                    }
                    guard p.offset == itemEnd else { throw bad("directory record at byte \(itemAt) overruns its length \(len)") }
                }
                records[itemAt] = record
            }
            p.offset = max(p.offset, end)
        }
        func ul(_ r: [DICOMTag: DICOMElement], _ tag: DICOMTag) -> Int {
            guard let v = r[tag]?.value, v.count >= 4 else { return 0 }
            return Int(v[0]) | Int(v[1]) << 8 | Int(v[2]) << 16 | Int(v[3]) << 24
        }
        func text(_ r: [DICOMTag: DICOMElement], _ tag: DICOMTag) -> String? {
            guard let v = r[tag]?.value else { return nil }
            let s = DICOMDataSet.string(v)
            return s.isEmpty ? nil : s
        }
        var entries: [Entry] = []
        var visited = Set<Int>()
        // Iterative walk: (offset of the first record of a level, depth, study, series).
        var pending: [(Int, Int, String?, String?)] = [(top[DICOMDirectory.firstRootRecord].map { ul([DICOMDirectory.firstRootRecord: $0], DICOMDirectory.firstRootRecord) } ?? 0, 0, nil, nil)]
        while let (first, depth, study, series) = pending.popLast() {
            var offset = first
            while offset != 0 {
                guard visited.insert(offset).inserted else { throw bad("directory records loop: byte \(offset) is reached twice") }
                guard let r = records[offset] else { throw bad("a record offset points to byte \(offset), not to a directory record") }
                let type = text(r, DICOMDirectory.recordType)?.uppercased() ?? ""
                var st = study, se = series
                if type == "STUDY" { st = text(r, .studyInstanceUID) }
                if type == "SERIES" { se = text(r, .seriesInstanceUID) }
                if let id = text(r, DICOMDirectory.referencedFileID), !["PATIENT", "STUDY", "SERIES"].contains(type) {
                    let parts = id.split(separator: "\\", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count <= 8, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("/") && !$0.contains("\0") }) else {
                        throw bad("referenced file ID '\(id.prefix(64))' is not a relative path of plain names")
                    }
                    let number = text(r, .instanceNumber).flatMap { DICOMDataSet.parseDecimal(Substring($0), integer: true) }.map { Int($0) }
                    entries.append(Entry(path: parts, recordType: type, studyUID: st, seriesUID: se, instanceNumber: number))
                }
                let lower = ul(r, DICOMDirectory.lowerLevelRecord)
                if lower != 0 {
                    guard depth + 1 <= DICOMDirectory.maxDepth else { throw bad("records nested deeper than \(DICOMDirectory.maxDepth)") }
                    pending.append((lower, depth + 1, st, se))
                }
                offset = ul(r, DICOMDirectory.nextRecord)
            }
        }
        self.entries = entries
    }
}
