import Foundation

/// A CTranslate2 `model.bin` could not be read.
public enum CTranslate2Error: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// The file ended inside the header or inside a variable's data.
    case truncated(path: String, context: String)
    /// `binary_version` is newer than this reader (6) or zero.
    case unsupportedVersion(path: String, version: UInt32)
    /// A structural field is impossible (rank, dims, byte count, dtype, name).
    case malformed(path: String, context: String)
    /// A variable that the caller asked for does not exist.
    case missingVariable(path: String, name: String)
    /// A variable exists but with another shape or a type that cannot be converted.
    case wrongVariable(path: String, name: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(p, r): return "\(p): cannot read CTranslate2 model: \(r)"
        case let .truncated(p, c): return "\(p): truncated CTranslate2 model (\(c))"
        case let .unsupportedVersion(p, v): return "\(p): CTranslate2 binary version \(v) is not supported (1...6)"
        case let .malformed(p, c): return "\(p): malformed CTranslate2 model: \(c)"
        case let .missingVariable(p, n): return "\(p): missing weight \(n)"
        case let .wrongVariable(p, n, r): return "\(p): weight \(n): \(r)"
        }
    }
}

/// Element types of CTranslate2 variables (`dtype_id` in binary versions ≥ 4).
public enum CTranslate2DType: UInt8, Sendable {
    case float32 = 0, int8 = 1, int16 = 2, int32 = 3, float16 = 4, bfloat16 = 5

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .int8: return 1
        case .int16, .float16, .bfloat16: return 2
        case .float32, .int32: return 4
        }
    }
}

/// One variable of a CTranslate2 model: where its data lies in the file, not the data itself.
public struct CTranslate2Variable: Sendable {
    public let name: String
    /// Extents, outermost first; empty for a scalar.
    public let shape: [Int]
    public let dtype: CTranslate2DType
    /// Byte offset of the data in the file (no alignment: the format has none).
    public let offset: Int
    public let byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Reader of CTranslate2 `model.bin` files, binary versions 1–6 (the layout is in
/// `../shared/specs/ctranslate2-whisper.md`).
///
/// The header is parsed once (data blocks are skipped with seeks and checked against the file
/// size); variable data is then read on demand with `pread`, one variable at a time, so loading
/// a float16 model into float32 never holds the whole file in memory.
public final class CTranslate2File: @unchecked Sendable {
    public let path: String
    public let binaryVersion: UInt32
    /// `"WhisperSpec"` etc.; empty for version 1.
    public let specName: String
    public let specRevision: UInt32
    /// Variables in file order (sorted by name).
    public let variables: [CTranslate2Variable]
    /// Alias name → target name (e.g. `decoder/projection/weight` → `decoder/embeddings/weight`).
    public let aliases: [String: String]
    private let index: [String: Int]
    private let fd: Int32

    /// The newest binary version this reader understands.
    public static let maxBinaryVersion: UInt32 = 6

    /// Opens and parses the header of `url`.
    /// - Throws: ``CTranslate2Error`` naming the file and the faulty field.
    public init(contentsOf url: URL) throws {
        path = url.path
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw CTranslate2Error.unreadable(path: url.path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw CTranslate2Error.unreadable(path: url.path, reason: "not a regular file")
        }
        self.fd = fd
        var r = HeaderReader(fd: fd, path: url.path, fileSize: Int(st.st_size))
        do {
            let version = try r.u32("binary_version")
            guard version >= 1, version <= Self.maxBinaryVersion else {
                throw CTranslate2Error.unsupportedVersion(path: url.path, version: version)
            }
            binaryVersion = version
            if version >= 2 {
                specName = try r.string("spec name")
                specRevision = try r.u32("spec revision")
            } else {
                specName = ""
                specRevision = 1
            }
            let count = Int(try r.u32("number of variables"))
            // Each variable needs at least 2 (name) + 1 (rank) + 5 bytes of header.
            guard count <= (r.fileSize - r.position) / 8 else {
                throw CTranslate2Error.malformed(path: url.path, context: "\(count) variables cannot fit in \(r.fileSize) bytes")
            }
            var vars: [CTranslate2Variable] = []
            vars.reserveCapacity(count)
            var index: [String: Int] = [:]
            for i in 0..<count {
                let name = try r.string("name of variable \(i)")
                let rank = Int(try r.u8("rank of \(name)"))
                guard rank <= 8 else { throw CTranslate2Error.malformed(path: url.path, context: "\(name): rank \(rank)") }
                var shape: [Int] = []
                var elements = 1
                for _ in 0..<rank {
                    let d = Int(try r.u32("dims of \(name)"))
                    let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                    guard !overflow, p <= r.fileSize else {
                        throw CTranslate2Error.malformed(path: url.path, context: "\(name): absurd shape \(shape + [d])")
                    }
                    elements = p
                    shape.append(d)
                }
                let dtype: CTranslate2DType
                let bytes: Int
                if version >= 4 {
                    let id = try r.u8("dtype of \(name)")
                    guard let t = CTranslate2DType(rawValue: id) else {
                        throw CTranslate2Error.malformed(path: url.path, context: "\(name): unknown dtype id \(id)")
                    }
                    dtype = t
                    bytes = Int(try r.u32("byte count of \(name)"))
                } else {
                    let item = try r.u8("item size of \(name)")
                    switch item {
                    case 4: dtype = .float32
                    case 2: dtype = .int16
                    case 1: dtype = .int8
                    default: throw CTranslate2Error.malformed(path: url.path, context: "\(name): item size \(item)")
                    }
                    let n = Int(try r.u32("element count of \(name)"))
                    bytes = n * Int(item)
                }
                guard bytes == elements * dtype.itemSize else {
                    throw CTranslate2Error.malformed(path: url.path,
                        context: "\(name): \(bytes) bytes for shape \(shape) of \(dtype) (\(elements * dtype.itemSize) expected)")
                }
                guard index[name] == nil else { throw CTranslate2Error.malformed(path: url.path, context: "duplicate variable \(name)") }
                let offset = r.position
                try r.skip(bytes, "data of \(name)")
                index[name] = vars.count
                vars.append(CTranslate2Variable(name: name, shape: shape, dtype: dtype, offset: offset, byteCount: bytes))
            }
            var aliases: [String: String] = [:]
            if version >= 3 {
                let n = Int(try r.u32("number of aliases"))
                guard n <= (r.fileSize - r.position) / 4 else {
                    throw CTranslate2Error.malformed(path: url.path, context: "\(n) aliases cannot fit in the file")
                }
                for _ in 0..<n {
                    let alias = try r.string("alias name")
                    let target = try r.string("alias target of \(alias)")
                    guard index[target] != nil else {
                        throw CTranslate2Error.malformed(path: url.path, context: "alias \(alias) points to unknown \(target)")
                    }
                    guard index[alias] == nil, aliases[alias] == nil else {
                        throw CTranslate2Error.malformed(path: url.path, context: "alias \(alias) shadows a variable")
                    }
                    aliases[alias] = target
                }
            }
            guard r.position == r.fileSize else {
                throw CTranslate2Error.malformed(path: url.path, context: "\(r.fileSize - r.position) trailing bytes")
            }
            variables = vars
            self.index = index
            self.aliases = aliases
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// All names a caller may ask for: variables and aliases.
    public var allNames: [String] { variables.map(\.name) + aliases.keys.sorted() }

    /// The variable called `name`, following an alias (and `<alias>_scale` → `<target>_scale`).
    public func variable(_ name: String) -> CTranslate2Variable? {
        if let i = index[name] { return variables[i] }
        if let t = aliases[name], let i = index[t] { return variables[i] }
        if name.hasSuffix("_scale") {
            let base = String(name.dropLast(6))
            if let t = aliases[base], let i = index[t + "_scale"] { return variables[i] }
        }
        return nil
    }

    /// Reads `name` converted to Float32 into `destination` (which must hold `expectedShape`'s count).
    ///
    /// float32, float16 and bfloat16 are converted; integer types too (values as-is, no scale).
    /// - Throws: missing variable, shape mismatch or a short read.
    public func readFloats(_ name: String, expectedShape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard let v = variable(name) else { throw CTranslate2Error.missingVariable(path: path, name: name) }
        guard v.shape == expectedShape else {
            throw CTranslate2Error.wrongVariable(path: path, name: name, reason: "shape \(v.shape), expected \(expectedShape)")
        }
        let n = v.elementCount
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(v.byteCount, 1), alignment: 64)
        defer { raw.deallocate() }
        try readBytes(v, into: raw)
        switch v.dtype {
        case .float32:
            destination.update(from: raw.assumingMemoryBound(to: Float.self), count: n)
        case .float16:
            HalfPrecision.float16ToFloatAligned(raw.assumingMemoryBound(to: Float16.self), count: n, into: destination)
        case .bfloat16:
            HalfPrecision.bfloat16ToFloatAligned(raw.assumingMemoryBound(to: UInt16.self), count: n, into: destination)
        case .int8:
            let s = raw.assumingMemoryBound(to: Int8.self)
            for i in 0..<n { destination[i] = Float(s[i]) }
        case .int16:
            let s = raw.assumingMemoryBound(to: Int16.self)
            for i in 0..<n { destination[i] = Float(s[i]) }
        case .int32:
            let s = raw.assumingMemoryBound(to: Int32.self)
            for i in 0..<n { destination[i] = Float(s[i]) }
        }
        if let i = firstNonFiniteIndex(destination, count: n) {
            throw CTranslate2Error.wrongVariable(path: path, name: name, reason: "non-finite value (NaN or inf) at element \(i)")
        }
    }

    /// Reads `name` as IEEE half precision into `destination`: float16 data is copied as is
    /// (exact); float32/bfloat16/integer data is converted with rounding.
    public func readHalves(_ name: String, expectedShape: [Int], into destination: UnsafeMutablePointer<Float16>) throws {
        guard let v = variable(name) else { throw CTranslate2Error.missingVariable(path: path, name: name) }
        guard v.shape == expectedShape else {
            throw CTranslate2Error.wrongVariable(path: path, name: name, reason: "shape \(v.shape), expected \(expectedShape)")
        }
        if v.dtype == .float16 {
            try readBytes(v, into: UnsafeMutableRawPointer(destination))
            for i in 0..<v.elementCount where !destination[i].isFinite {
                throw CTranslate2Error.wrongVariable(path: path, name: name, reason: "non-finite value (NaN or inf) at element \(i)")
            }
            return
        }
        let n = v.elementCount
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        defer { tmp.deallocate() }
        try readFloats(name, expectedShape: expectedShape, into: tmp)
        for i in 0..<n { destination[i] = Float16(tmp[i]) }
    }

    /// Reads `name` as a new Float32 array of `expectedShape`.
    public func floats(_ name: String, expectedShape: [Int]) throws -> [Float] {
        let n = expectedShape.reduce(1, *)
        return try [Float](unsafeUninitializedCapacity: n) { buf, count in
            try readFloats(name, expectedShape: expectedShape, into: buf.baseAddress!)
            count = n
        }
    }

    /// The value of a scalar (rank-0) variable such as `decoder/num_heads`, as a Double.
    public func scalar(_ name: String) throws -> Double {
        guard let v = variable(name) else { throw CTranslate2Error.missingVariable(path: path, name: name) }
        guard v.shape.isEmpty else {
            throw CTranslate2Error.wrongVariable(path: path, name: name, reason: "shape \(v.shape), expected a scalar")
        }
        var x: Float = 0
        try readFloats(name, expectedShape: [], into: &x)
        return Double(x)
    }

    private func readBytes(_ v: CTranslate2Variable, into raw: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < v.byteCount {
            let got = pread(fd, raw + done, v.byteCount - done, off_t(v.offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw CTranslate2Error.unreadable(path: path, reason: "\(v.name): \(String(cString: strerror(errno)))")
            }
            if got == 0 { throw CTranslate2Error.truncated(path: path, context: "data of \(v.name)") }
            done += got
        }
    }
}

/// Sequential reader of the header fields, buffered, on a file descriptor.
private struct HeaderReader {
    let fd: Int32
    let path: String
    let fileSize: Int
    private(set) var position = 0
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var bufferStart = 0
    private var bufferCount = 0

    init(fd: Int32, path: String, fileSize: Int) {
        self.fd = fd
        self.path = path
        self.fileSize = fileSize
    }

    mutating func bytes(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard n <= fileSize - position else { throw CTranslate2Error.truncated(path: path, context: what) }
        if n > buffer.count { buffer = [UInt8](repeating: 0, count: n) }
        if position < bufferStart || position + n > bufferStart + bufferCount {
            let want = min(buffer.count, fileSize - position)
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(position)) }
            guard got >= n else { throw CTranslate2Error.truncated(path: path, context: what) }
            bufferStart = position
            bufferCount = got
        }
        let lo = position - bufferStart
        position += n
        return buffer[lo..<(lo + n)]
    }

    mutating func u8(_ what: String) throws -> UInt8 { try bytes(1, what).first! }

    mutating func u16(_ what: String) throws -> UInt16 {
        let b = try bytes(2, what)
        return UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        let b = try bytes(4, what)
        var v: UInt32 = 0
        for (i, x) in b.enumerated() { v |= UInt32(x) << (8 * UInt32(i)) }
        return v
    }

    /// `u16 length (including the NUL)`, then the bytes.
    mutating func string(_ what: String) throws -> String {
        let n = Int(try u16(what))
        guard n >= 1 else { throw CTranslate2Error.malformed(path: path, context: "\(what): empty string field") }
        let b = try bytes(n, what)
        guard b.last == 0 else { throw CTranslate2Error.malformed(path: path, context: "\(what): string without NUL") }
        guard let s = String(validating: b.dropLast(), as: UTF8.self) else {
            throw CTranslate2Error.malformed(path: path, context: "\(what): not UTF-8")
        }
        return s
    }

    mutating func skip(_ n: Int, _ what: String) throws {
        guard n <= fileSize - position else { throw CTranslate2Error.truncated(path: path, context: what) }
        position += n
    }
}
