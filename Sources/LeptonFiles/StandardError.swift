// StandardError.swift: Lepton's own stderr lines, and the capture of a C decoder's messages.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// The process's standard error, shared by Lepton's log lines and the capture of what C decoders
/// print there.
///
/// libsndfile's MP3 decoder (mpg123) prints damaged frames straight to file descriptor 2 and
/// offers no way to silence or count them, so ``capturing(into:_:)`` points descriptor 2 at a file
/// while a decoder call runs. Descriptor 2 belongs to the whole process: in a service, another
/// thread's log line written during a capture would vanish into that file. So Lepton's own
/// output goes through ``write(_:)``, which writes to the terminal's descriptor saved by the
/// capture while one runs; captures take turns (one at a time). Only foreign C code writing to
/// descriptor 2 from another thread during a capture can still be captured.
public enum StandardError {
    /// The descriptor Lepton's lines go to: 2, or the saved terminal during a capture. Held while
    /// writing, so a capture never closes the descriptor under a writer.
    private static let terminal = Mutex<Int32>(2)
    /// Held for a whole capture: one at a time.
    private static let captureTurn = NSLock()

    /// Writes `text` to standard error as one `write` sequence (lines of two threads never interleave
    /// inside a line), even while a decoder's messages are being captured.
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            terminal.withLock { fd in _ = writeAll(fd, UnsafeRawBufferPointer(bytes)) }
        }
    }

    /// Runs `body` with descriptor 2 pointed at `fd` (an open file the caller reads back), so what C
    /// code prints on stderr meanwhile lands there; ``write(_:)`` keeps reaching the terminal.
    /// When descriptor 2 cannot be redirected, `body` runs with it unchanged.
    public static func capturing<T>(into fd: Int32, _ body: () throws -> T) rethrows -> T {
        captureTurn.lock()
        defer { captureTurn.unlock() }
        let saved: Int32 = terminal.withLock { current in
            fflush(nil)
            let saved = dup(2)
            guard saved >= 0 else { return -1 }
            guard dup2(fd, 2) >= 0 else { close(saved); return -1 }
            current = saved
            return saved
        }
        defer {
            if saved >= 0 {
                terminal.withLock { current in
                    fflush(nil)
                    dup2(saved, 2)
                    close(saved)
                    current = 2
                }
            }
        }
        return try body()
    }
}
