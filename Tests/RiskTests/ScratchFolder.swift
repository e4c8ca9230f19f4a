import Foundation

/// A folder of this test process for a test class's small input files (removed with the temporary
/// directory, never shared between processes).
struct ScratchFolder {
    let url: URL

    init(_ name: String) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` in the folder; returns its path.
    func write(_ text: String, _ name: String) -> String {
        let file = url.appendingPathComponent(name)
        try? Data(text.utf8).write(to: file)
        return file.path
    }
}
