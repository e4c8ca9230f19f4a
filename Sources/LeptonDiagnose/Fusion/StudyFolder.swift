import Foundation

/// One study found in a folder: a scan and/or a report sharing a path without extension.
public struct FolderStudy: Sendable, Equatable {
    /// Path relative to the folder, without extension (`2024/case1`).
    public let stem: String
    public var scan: URL?
    public var report: URL?
}

/// Finds the studies of a folder, recursively.
public enum StudyFolder {
    public static let scanExtensions: Set<String> = ["png", "dcm", "dicom"]
    public static let reportExtensions: Set<String> = ["xml", "txt"]

    /// Every study under `folder` and its subfolders, sorted by path. Files pair up when they share
    /// folder and name stem (`a/case1.dcm` + `a/case1.xml`); files without extension count as
    /// scans (DICOM files often have none). Hidden files and folders are skipped, and folder
    /// symlinks are not followed (no cycles).
    /// - Throws: `DiagnoseError.emptyFolder` when the folder cannot be listed or holds no study (an
    ///   empty batch is an error, not "0 studies" and success).
    public static func studies(in folder: URL) throws -> [FolderStudy] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey],
                                         options: [.skipsHiddenFiles]) else {
            throw DiagnoseError.emptyFolder(path: folder.path, reason: "cannot list the folder")
        }
        var byStem: [String: FolderStudy] = [:]
        let base = folder.standardizedFileURL.path
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let ext = url.pathExtension.lowercased()
            let isReport = reportExtensions.contains(ext)
            guard isReport || scanExtensions.contains(ext) || ext.isEmpty else { continue }
            var rel = url.standardizedFileURL.deletingPathExtension().path
            if rel.hasPrefix(base + "/") { rel = String(rel.dropFirst(base.count + 1)) }
            var study = byStem[rel] ?? FolderStudy(stem: rel)
            if isReport { study.report = url } else { study.scan = url }
            byStem[rel] = study
        }
        guard !byStem.isEmpty else {
            throw DiagnoseError.emptyFolder(path: folder.path, reason: "no studies (no \((scanExtensions.sorted() + reportExtensions.sorted()).map { "." + $0 }.joined(separator: " ")) files in it or its subfolders)")
        }
        return byStem.values.sorted { $0.stem < $1.stem }
    }
}
