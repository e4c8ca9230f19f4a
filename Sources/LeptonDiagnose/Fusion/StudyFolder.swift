import Foundation
import LeptonImage

/// One study found in a folder: its images and/or a report.
///
/// Images of a DICOM study are grouped by StudyInstanceUID (from a DICOMDIR when one lists them,
/// else from each file's header), whatever their file names; PNGs and DICOM files without a
/// study UID form a study per path stem, as do a scan and a report sharing it.
public struct FolderStudy: Sendable, Equatable {
    /// Path relative to the folder, without extension, of the study's first image (or its report):
    /// `2024/case1`. Also the study's name in outputs (UIDs are identifiers and never printed).
    public let stem: String
    /// The first image (`images.first`), kept for single-image callers.
    public var scan: URL?
    public var report: URL?
    /// Every image of the study, by series (in order of first appearance), InstanceNumber, path.
    public var images: [URL] = []
    /// Number of distinct series among `images` (files without a series UID count as one each).
    public var seriesCount = 0
    /// How outputs name a study of several images, relative to the folder: the deepest folder
    /// holding all of them (`patient1/study2`), or the first image's stem when that is the top.
    public var name: String { images.count > 1 ? commonFolder ?? stem : stem }
    var commonFolder: String?

    public init(stem: String, scan: URL? = nil, report: URL? = nil) {
        self.stem = stem; self.scan = scan; self.report = report
        if let scan { images = [scan]; seriesCount = 1 }
    }
}

/// Finds the studies of a folder, recursively.
public enum StudyFolder {
    public static let scanExtensions: Set<String> = ["png", "dcm", "dicom"]
    public static let reportExtensions: Set<String> = ["xml", "txt"]

    /// What the grouping knows of one image file.
    struct ImageFile {
        let url: URL
        let stem: String
        var studyUID: String?
        var seriesUID: String?
        var accession: String?
        var instance: Int?
    }

    /// Every study under `folder` and its subfolders, sorted by stem.
    ///
    /// Files without extension count as scans (DICOM files often have none); a file named
    /// `DICOMDIR` is read as the media directory instead: the files it lists take their study and
    /// series from it. A DICOMDIR that cannot be read is reported through `warn` and the headers
    /// are used. Reports pair with a study when their stem is that of one of its images
    /// (`a/case1.dcm` + `a/case1.xml`), or when their file name is the study's StudyInstanceUID or
    /// AccessionNumber (`1.2.3.4.xml`). Hidden files and folders are skipped, and folder symlinks
    /// are not followed (no cycles).
    /// - Throws: `DiagnoseError.emptyFolder` when the folder cannot be listed or holds no study (an
    ///   empty batch is an error, not "0 studies" and success).
    public static func studies(in folder: URL, warn: (String) -> Void = { _ in }) throws -> [FolderStudy] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey],
                                         options: [.skipsHiddenFiles]) else {
            throw DiagnoseError.emptyFolder(path: folder.path, reason: "cannot list the folder")
        }
        let base = folder.standardizedFileURL.path
        func relativeStem(_ url: URL) -> String {
            var rel = url.standardizedFileURL.deletingPathExtension().path
            if rel.hasPrefix(base + "/") { rel = String(rel.dropFirst(base.count + 1)) }
            return rel
        }
        var images: [ImageFile] = [], reports: [(url: URL, stem: String)] = [], directories: [URL] = []
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            if url.lastPathComponent.uppercased() == "DICOMDIR" { directories.append(url); continue }
            let ext = url.pathExtension.lowercased()
            if reportExtensions.contains(ext) {
                reports.append((url, relativeStem(url)))
            } else if scanExtensions.contains(ext) || ext.isEmpty {
                images.append(ImageFile(url: url, stem: relativeStem(url)))
            }
        }
        // UIDs from DICOMDIRs first, then from the headers of the other DICOM files.
        var known: [String: (study: String?, series: String?, instance: Int?)] = [:]
        for dir in directories {
            do {
                let listing = try DICOMDirectory(contentsOf: dir)
                let root = dir.deletingLastPathComponent()
                for e in listing.entries {
                    let path = e.path.reduce(root) { $0.appendingPathComponent($1) }.standardizedFileURL.path
                    known[path] = (e.studyUID, e.seriesUID, e.instanceNumber)
                }
            } catch {
                warn("\(error); grouping its files by their own headers")
            }
        }
        for i in images.indices where images[i].url.pathExtension.lowercased() != "png" {
            if let k = known[images[i].url.standardizedFileURL.path], k.study != nil {
                images[i].studyUID = k.study; images[i].seriesUID = k.series; images[i].instance = k.instance
                continue
            }
            // Unreadable files keep no UIDs: they become a study of their own and fail when analysed.
            guard let ds = try? DICOMDataSet(contentsOf: images[i].url, headerOnly: true) else { continue }
            images[i].studyUID = ds.string(.studyInstanceUID).flatMap { $0.isEmpty ? nil : $0 }
            images[i].seriesUID = ds.string(.seriesInstanceUID).flatMap { $0.isEmpty ? nil : $0 }
            images[i].accession = ds.string(.accessionNumber).flatMap { $0.isEmpty ? nil : $0 }
            images[i].instance = ds.number(.instanceNumber).flatMap { abs($0) < 1e9 ? Int($0) : nil }
        }
        // Group: by study UID, else by stem.
        var groups: [String: [ImageFile]] = [:]
        for img in images { groups[img.studyUID.map { "uid:" + $0 } ?? "stem:" + img.stem, default: []].append(img) }
        var studies: [FolderStudy] = []
        var stemToStudy: [String: Int] = [:], keyToStudy: [String: Int] = [:]
        for (_, files) in groups {
            let ordered = order(files)
            var st = FolderStudy(stem: ordered.map(\.stem).min() ?? "")
            st.images = ordered.map(\.url)
            st.scan = st.images.first
            st.seriesCount = Set(ordered.enumerated().map { $0.element.seriesUID ?? "#\($0.offset)" }).count
            var common = ordered.first.map { ($0.stem as NSString).deletingLastPathComponent.split(separator: "/").map(String.init) } ?? []
            for f in ordered {
                let parts = (f.stem as NSString).deletingLastPathComponent.split(separator: "/").map(String.init)
                var n = 0
                while n < min(common.count, parts.count), common[n] == parts[n] { n += 1 }
                common = Array(common.prefix(n))
            }
            st.commonFolder = common.isEmpty ? nil : common.joined(separator: "/")
            let index = studies.count
            for f in ordered { stemToStudy[f.stem] = index }
            if let uid = ordered.first?.studyUID { keyToStudy[uid] = index }
            for f in ordered { if let a = f.accession { keyToStudy[a] = index } }
            studies.append(st)
        }
        for r in reports {
            let name = r.url.deletingPathExtension().lastPathComponent
            if let i = stemToStudy[r.stem] ?? keyToStudy[name], studies[i].report == nil {
                studies[i].report = r.url
            } else {
                studies.append(FolderStudy(stem: r.stem, report: r.url))
            }
        }
        guard !studies.isEmpty else {
            throw DiagnoseError.emptyFolder(path: folder.path, reason: "no studies (no \((scanExtensions.sorted() + reportExtensions.sorted()).map { "." + $0 }.joined(separator: " ")) files in it or its subfolders)")
        }
        return studies.sorted { $0.stem < $1.stem }
    }

    /// Images by series (in the order their first file appears by path), then InstanceNumber, then path.
    static func order(_ files: [ImageFile]) -> [ImageFile] {
        let byPath = files.sorted { $0.stem < $1.stem || ($0.stem == $1.stem && $0.url.path < $1.url.path) }
        var seriesRank: [String: Int] = [:]
        for f in byPath { if let s = f.seriesUID, seriesRank[s] == nil { seriesRank[s] = seriesRank.count } }
        return byPath.enumerated().sorted { a, b in
            let sa = a.element.seriesUID.flatMap { seriesRank[$0] } ?? Int.max, sb = b.element.seriesUID.flatMap { seriesRank[$0] } ?? Int.max
            if sa != sb { return sa < sb }
            let ia = a.element.instance ?? Int.max, ib = b.element.instance ?? Int.max
            if ia != ib { return ia < ib }
            return a.offset < b.offset
        }.map(\.element)
    }
}
