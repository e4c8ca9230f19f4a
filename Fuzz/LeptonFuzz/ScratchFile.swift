// ScratchFile.swift: hands fuzz input to loaders that only read from a path.
//
// Most of Lepton's loaders take a URL (libsndfile, CTranslate2's pread, the CSV stream, model
// folders), so the fuzz input is written to one reused file per process, on tmpfs when there is
// one: a write costs microseconds next to a decode, and the loader sees exactly what a user's
// file would give it.

import Foundation

enum ScratchFile {
    /// A private folder for this process, removed at exit.
    static let directory: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("lepton-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: ScratchFile.directory) }
        return url
    }()

    /// Writes `bytes` to `name` inside the scratch folder and returns its URL.
    static func write(_ bytes: UnsafeBufferPointer<UInt8>, name: String) -> URL {
        write(Data(buffer: bytes), name: name)
    }

    static func write(_ data: Data, name: String) -> URL {
        let url = directory.appendingPathComponent(name)
        do { try data.write(to: url) } catch { fatalError("lepton-fuzz: cannot write \(url.path): \(error)") }
        return url
    }

    /// A model folder: `files` copied once from `source`, plus the fuzzed file `fuzzedName`.
    static func modelFolder(_ name: String, copying files: [String], from source: URL) -> URL {
        let dir = directory.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in files where !FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path) {
            do { try FileManager.default.copyItem(at: source.appendingPathComponent(f), to: dir.appendingPathComponent(f)) } catch {
                fatalError("lepton-fuzz: cannot copy \(f) from \(source.path): \(error)")
            }
        }
        return dir
    }
}
