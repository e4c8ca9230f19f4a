import CDNNL
import Dispatch
import Foundation

// Inference convolutions and max pooling on channels-last (NHWC) float32 images through oneDNN's
// f32 primitives (Debian's libdnnl 2.6, Apache-2.0): `brgconv` / `jit` kernels for AVX-512 and AVX2,
// with ReLU and a residual sum fused into the convolution's output stage. A network kept in NHWC
// between layers needs no reorder except at its edges (see LeptonONNX's convolution segments).
//
// Why not oneDNN's own threads: Debian builds oneDNN on OpenMP, whose waiting threads spin; on a
// loaded two-core machine a spinning thread waiting for a descheduled partner made ResNet-18 take
// 560–930 ms instead of 35 ms (measured side by side, load 11–16). So every primitive runs on one
// OpenMP thread, and the output is cut into pieces (row bands of one image, or groups of images)
// that the engine's own threads take (`DispatchQueue.concurrentPerform`: the calling thread does
// every piece itself when no worker turns up). Each piece is its own primitive with its own
// top/bottom padding, so a band reads only its input rows and no piece writes another's output.

/// The shape of a channels-last float32 image batch `[batch, height, width, channels]`.
public struct ChannelsLastShape: Sendable, Hashable, CustomStringConvertible {
    public var batch, height, width, channels: Int
    public init(batch: Int, height: Int, width: Int, channels: Int) {
        self.batch = batch; self.height = height; self.width = width; self.channels = channels
    }
    /// The same image batch as `[N, C, H, W]`.
    public init(nchw s: [Int]) {
        precondition(s.count == 4, "NCHW shape expected, got \(s)")
        self.init(batch: s[0], height: s[2], width: s[3], channels: s[1])
    }
    public var count: Int { batch * height * width * channels }
    /// `[N, C, H, W]`.
    public var nchw: [Int] { [batch, channels, height, width] }
    public var description: String { "NHWC[\(batch), \(height), \(width), \(channels)]" }
}

/// A oneDNN call that failed: at plan time an unsupported configuration (callers fall back to
/// their own kernels), at run time an execution error.
public struct DNNLError: Error, CustomStringConvertible {
    public let operation: String
    public let status: Int
    public var description: String { "oneDNN \(operation) failed (status \(status))" }
}

/// The CPU engine and small helpers around oneDNN's C API.
enum DNNL {
    /// oneDNN's CPU engine: created once, thread-safe.
    nonisolated(unsafe) static let engine: dnnl_engine_t? = {
        var e: dnnl_engine_t?
        return dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success ? e : nil
    }()

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status == dnnl_success else { throw DNNLError(operation: what(), status: Int(status.rawValue)) }
    }

    static func engineOrThrow() throws -> dnnl_engine_t {
        guard let e = engine else { throw DNNLError(operation: "engine creation", status: -1) }
        return e
    }

    /// A plain memory descriptor of `dims` (outermost first) in `tag`'s order.
    static func memory(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { dnnl_dim_t($0) }
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag), "memory descriptor \(dims)")
        return md
    }

    /// The descriptor `query` of a primitive descriptor (copied: the pointer dies with it).
    static func query(_ pd: dnnl_primitive_desc_t, _ what: dnnl_query_t) -> dnnl_memory_desc_t? {
        dnnl_primitive_desc_query_md(pd, what, 0)?.pointee
    }

    /// The implementation oneDNN chose (e.g. "brgconv:avx512_core").
    static func implementation(_ pd: dnnl_primitive_desc_t) -> String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "?" }
        return String(cString: name)
    }

    /// Runs `body` with a new primitive attribute set for user-managed scratch memory (so one
    /// primitive can run on several threads at once, each call with its own scratch).
    static func withAttributes<R>(sum: Bool = false, relu: Bool = false, _ body: (dnnl_primitive_attr_t) throws -> R) throws -> R {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "attribute creation")
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if sum || relu {
            var ops: dnnl_post_ops_t?
            try check(dnnl_post_ops_create(&ops), "post-ops creation")
            defer { dnnl_post_ops_destroy(ops) }
            if sum { try check(dnnl_post_ops_append_sum(ops, 1), "sum post-op") }
            if relu { try check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "ReLU post-op") }
            try check(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops")
        }
        return try body(attr!)
    }
}

/// How an output is cut into pieces: one image's rows in bands, or a batch in groups of images.
struct OutputPiece {
    var images: Range<Int>
    var rows: Range<Int>

    /// At most `parts` pieces covering `batch` images of `outHeight` rows.
    static func split(batch: Int, outHeight: Int, parts: Int) -> [OutputPiece] {
        if batch == 1 {
            let n = max(1, min(parts, outHeight))
            return (0..<n).map { OutputPiece(images: 0..<1, rows: (outHeight * $0 / n)..<(outHeight * ($0 + 1) / n)) }
        }
        let n = max(1, min(parts, batch))
        return (0..<n).map { OutputPiece(images: (batch * $0 / n)..<(batch * ($0 + 1) / n), rows: 0..<outHeight) }
    }

    /// The input rows a band of output rows reads, and the padding above and below it.
    static func inputRows(_ rows: Range<Int>, height: Int, stride: Int, padding: Int, extent: Int)
        -> (rows: Range<Int>, top: Int, bottom: Int) {
        let lo = rows.lowerBound * stride - padding, hi = (rows.upperBound - 1) * stride - padding + extent
        let top = max(0, -lo), bottom = max(0, hi - height)
        return (max(lo, 0)..<min(hi, height), top, bottom)
    }
}

/// A primitive per output piece, with the offsets (in floats) of the piece's input and output.
struct PrimitivePiece {
    let primitive: dnnl_primitive_t
    let source: dnnl_memory_desc_t
    let destination: dnnl_memory_desc_t
    let scratch: dnnl_memory_desc_t
    let scratchBytes: Int
    let sourceOffset: Int
    let destinationOffset: Int
    /// Index into the owner's reordered weight buffers (convolutions).
    let weights: Int
}

/// The oneDNN objects of one layer: a primitive per piece, and the weights in the layout the
/// primitives chose (reordered once). Immutable; destroyed with the last reference.
final class PiecewisePrimitive: @unchecked Sendable {
    var pieces: [PrimitivePiece] = []
    var weightBuffers: [(memory: dnnl_memory_desc_t, data: UnsafeMutableRawPointer)] = []
    var bias: (memory: dnnl_memory_desc_t, data: UnsafeMutablePointer<Float>)?
    /// The implementation oneDNN chose for each piece.
    var implementations: [String] = []

    deinit {
        for p in pieces { dnnl_primitive_destroy(p.primitive) }
        for w in weightBuffers { w.data.deallocate() }
        bias?.data.deallocate()
    }

    /// Creates the primitive for `descriptor` and records it as a piece.
    func addPiece(_ descriptor: UnsafeRawPointer, attributes: dnnl_primitive_attr_t, sourceOffset: Int, destinationOffset: Int,
                  weights reorderFrom: dnnl_memory_desc_t? = nil, weightData: UnsafePointer<Float>? = nil) throws {
        let engine = try DNNL.engineOrThrow()
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_primitive_desc_create(&pd, descriptor, attributes, engine, nil), "primitive descriptor")
        defer { dnnl_primitive_desc_destroy(pd) }
        let impl = DNNL.implementation(pd!)
        // oneDNN's reference kernels are plain loops, far slower than im2col + GEMM: refuse them.
        guard !impl.hasPrefix("ref") else { throw DNNLError(operation: "a fast kernel (only \(impl))", status: -1) }
        guard let src = DNNL.query(pd!, dnnl_query_src_md), let dst = DNNL.query(pd!, dnnl_query_dst_md) else {
            throw DNNLError(operation: "memory descriptor query", status: -1)
        }
        var scratch = DNNL.query(pd!, dnnl_query_scratchpad_md) ?? dnnl_memory_desc_t()
        var weightIndex = -1
        if let userWeights = reorderFrom, let weightData {
            guard var wanted = DNNL.query(pd!, dnnl_query_weights_md) else { throw DNNLError(operation: "weights query", status: -1) }
            if let i = weightBuffers.firstIndex(where: { var m = $0.memory; return dnnl_memory_desc_equal(&m, &wanted) != 0 }) {
                weightIndex = i
            } else {
                let data = try Self.reorder(userWeights, weightData, to: wanted)
                weightBuffers.append((wanted, data))
                weightIndex = weightBuffers.count - 1
            }
        }
        var primitive: dnnl_primitive_t?
        try DNNL.check(dnnl_primitive_create(&primitive, pd), "primitive creation")
        pieces.append(PrimitivePiece(primitive: primitive!, source: src, destination: dst, scratch: scratch,
                                     scratchBytes: dnnl_memory_desc_get_size(&scratch), sourceOffset: sourceOffset,
                                     destinationOffset: destinationOffset, weights: weightIndex))
        implementations.append(impl)
    }

    /// `data` (described by `from`) copied into a new 64-byte aligned buffer in layout `to`.
    static func reorder(_ from: dnnl_memory_desc_t, _ data: UnsafePointer<Float>, to: dnnl_memory_desc_t) throws -> UnsafeMutableRawPointer {
        let engine = try DNNL.engineOrThrow()
        var src = from, dst = to
        let bytes = max(dnnl_memory_desc_get_size(&dst), 64)
        let out = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        var ok = false
        defer { if !ok { out.deallocate() } }
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_reorder_primitive_desc_create(&pd, &src, engine, &dst, engine, nil), "weight reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorder: dnnl_primitive_t?
        try DNNL.check(dnnl_primitive_create(&reorder, pd), "weight reorder primitive")
        defer { dnnl_primitive_destroy(reorder) }
        var inMem: dnnl_memory_t?, outMem: dnnl_memory_t?, stream: dnnl_stream_t?
        try DNNL.check(dnnl_memory_create(&inMem, &src, engine, UnsafeMutableRawPointer(mutating: data)), "memory")
        defer { dnnl_memory_destroy(inMem) }
        try DNNL.check(dnnl_memory_create(&outMem, &dst, engine, out), "memory")
        defer { dnnl_memory_destroy(outMem) }
        try DNNL.check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        defer { dnnl_stream_destroy(stream) }
        Int8GEMM.singleThreadOpenMP()
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: inMem), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: outMem)]
        try DNNL.check(dnnl_primitive_execute(reorder, stream, Int32(args.count), args), "weight reorder")
        try DNNL.check(dnnl_stream_wait(stream), "weight reorder")
        ok = true
        return out
    }

    /// Runs every piece on `source` → `destination` (channels-last buffers of the layer's whole
    /// input and output), the pieces spread over the engine's threads.
    func run(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) throws {
        if pieces.count == 1 { try runPiece(0, source, destination); return }
        nonisolated(unsafe) let (src, dst) = (source, destination)
        let failure = FirstError()
        DispatchQueue.concurrentPerform(iterations: pieces.count) { p in
            do { try self.runPiece(p, src, dst) } catch { failure.record(error) }
        }
        if let e = failure.error { throw e }
    }

    private func runPiece(_ p: Int, _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) throws {
        let engine = try DNNL.engineOrThrow()
        let piece = pieces[p]
        Int8GEMM.singleThreadOpenMP()
        var memories: [dnnl_memory_t?] = []
        var stream: dnnl_stream_t?
        let scratchData = piece.scratchBytes > 0 ? UnsafeMutableRawPointer.allocate(byteCount: piece.scratchBytes, alignment: 64) : nil
        defer {
            for m in memories { dnnl_memory_destroy(m) }
            if let stream { dnnl_stream_destroy(stream) }
            scratchData?.deallocate()
        }
        func memory(_ md: dnnl_memory_desc_t, _ data: UnsafeMutableRawPointer) throws -> dnnl_memory_t? {
            var m: dnnl_memory_t?, desc = md
            try DNNL.check(dnnl_memory_create(&m, &desc, engine, data), "memory")
            memories.append(m)
            return m
        }
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: try memory(piece.source, UnsafeMutableRawPointer(mutating: source + piece.sourceOffset))),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: try memory(piece.destination, UnsafeMutableRawPointer(destination + piece.destinationOffset)))]
        if piece.weights >= 0 {
            let w = weightBuffers[piece.weights]
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: try memory(w.memory, w.data)))
            if let bias { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: try memory(bias.memory, UnsafeMutableRawPointer(bias.data)))) }
        }
        if let scratchData { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: try memory(piece.scratch, scratchData))) }
        try DNNL.check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        try DNNL.check(dnnl_primitive_execute(piece.primitive, stream, Int32(args.count), args), "execution")
        try DNNL.check(dnnl_stream_wait(stream), "execution")
    }
}

/// The first error thrown by any of several concurrent pieces.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    func record(_ e: Error) { lock.lock(); if stored == nil { stored = e }; lock.unlock() }
    var error: Error? { lock.lock(); defer { lock.unlock() }; return stored }
}

/// An inference 2-D convolution on channels-last images through oneDNN, optionally followed by
/// `+ destination` (a residual connection: the output buffer holds the residual before the call)
/// and ReLU, fused into the kernel's output stage. Built once per input shape; ``run(_:_:)`` may
/// be called from many threads at once.
public final class ChannelsLastConvolution: Sendable {
    public let geometry: Conv2dGeometry
    public let input: ChannelsLastShape
    public let output: ChannelsLastShape
    /// oneDNN's implementation of each piece (e.g. "brgconv:avx512_core"), for tests and profiles.
    public var implementations: [String] { layer.implementations }
    private let layer: PiecewisePrimitive

    /// - Parameters:
    ///   - weight: `[outChannels, inChannels/groups, kh, kw]`, as ``Tensor/conv2d(weight:bias:stride:padding:dilation:groups:)``.
    ///   - addsResidual: the result is added to what the output buffer holds.
    ///   - relu: ReLU after the (residual) sum.
    ///   - parts: at most this many pieces (usually the engine's thread count).
    /// - Throws: ``DNNLError`` when oneDNN has no fast kernel for this configuration.
    public init(geometry g: Conv2dGeometry, weight: Tensor, bias: Tensor?, addsResidual: Bool, relu: Bool, parts: Int) throws {
        precondition(weight.shape == [g.outChannels, g.inChannels / g.groups, g.kernelH, g.kernelW], "weight \(weight.shape) for \(g)")
        geometry = g
        input = ChannelsLastShape(batch: g.batch, height: g.height, width: g.width, channels: g.inChannels)
        output = ChannelsLastShape(batch: g.batch, height: g.outHeight, width: g.outWidth, channels: g.outChannels)
        let layer = PiecewisePrimitive()
        let weightDims = g.groups == 1 ? [g.outChannels, g.inChannels, g.kernelH, g.kernelW]
            : [g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.kernelH, g.kernelW]
        let userWeights = try DNNL.memory(weightDims, g.groups == 1 ? dnnl_oihw : dnnl_goihw)
        let anyWeights = try DNNL.memory(weightDims, dnnl_format_tag_any)
        var biasMD = try DNNL.memory([g.outChannels], dnnl_x)
        if let bias {
            let b = UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels)
            bias.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: g.outChannels) }
            layer.bias = (biasMD, b)
        }
        let (inRow, outRow) = (g.width * g.inChannels, g.outWidth * g.outChannels)
        let extent = g.dilationH * (g.kernelH - 1) + 1
        try DNNL.withAttributes(sum: addsResidual, relu: relu) { attr in
            for piece in OutputPiece.split(batch: g.batch, outHeight: g.outHeight, parts: parts) {
                let band = OutputPiece.inputRows(piece.rows, height: g.height, stride: g.strideH, padding: g.padH, extent: extent)
                guard !band.rows.isEmpty else { throw DNNLError(operation: "a band with input rows", status: -1) }
                var src = try DNNL.memory([piece.images.count, g.inChannels, band.rows.count, g.width], dnnl_nhwc)
                var dst = try DNNL.memory([piece.images.count, g.outChannels, piece.rows.count, g.outWidth], dnnl_nhwc)
                var w = anyWeights
                let strides = [g.strideH, g.strideW].map { dnnl_dim_t($0) }
                let dilates = [g.dilationH - 1, g.dilationW - 1].map { dnnl_dim_t($0) }
                let left = [band.top, g.padW].map { dnnl_dim_t($0) }, right = [band.bottom, g.padW].map { dnnl_dim_t($0) }
                var desc = dnnl_convolution_desc_t()
                let status = bias == nil
                    ? dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &w, nil, &dst,
                                                                 strides, dilates, left, right)
                    : dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &w, &biasMD, &dst,
                                                                 strides, dilates, left, right)
                try DNNL.check(status, "convolution descriptor for \(g)")
                try weight.withUnsafeBufferPointer { wb in
                    try withUnsafePointer(to: &desc) { d in
                        try layer.addPiece(UnsafeRawPointer(d), attributes: attr,
                                           sourceOffset: (piece.images.lowerBound * g.height + band.rows.lowerBound) * inRow,
                                           destinationOffset: (piece.images.lowerBound * g.outHeight + piece.rows.lowerBound) * outRow,
                                           weights: userWeights, weightData: wb.baseAddress!)
                    }
                }
            }
        }
        self.layer = layer
    }

    /// `output = conv(input) (+ output) (ReLU)` on channels-last buffers of ``input`` and ``output``'s sizes.
    public func run(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) throws {
        try layer.run(source, destination)
    }
}

/// Inference 2-D max pooling on channels-last images through oneDNN (padding never wins a max,
/// as in ONNX `MaxPool`), in pieces like ``ChannelsLastConvolution``.
public final class ChannelsLastMaxPool: Sendable {
    public let input: ChannelsLastShape
    public let output: ChannelsLastShape
    private let layer: PiecewisePrimitive

    public init(input: ChannelsLastShape, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), parts: Int) throws {
        let oh = (input.height + 2 * padding.0 - kernel.0) / stride.0 + 1, ow = (input.width + 2 * padding.1 - kernel.1) / stride.1 + 1
        precondition(oh > 0 && ow > 0, "max pool output would be empty for \(input)")
        self.input = input
        output = ChannelsLastShape(batch: input.batch, height: oh, width: ow, channels: input.channels)
        let layer = PiecewisePrimitive()
        let c = input.channels
        try DNNL.withAttributes { attr in
            for piece in OutputPiece.split(batch: input.batch, outHeight: oh, parts: parts) {
                let band = OutputPiece.inputRows(piece.rows, height: input.height, stride: stride.0, padding: padding.0, extent: kernel.0)
                guard !band.rows.isEmpty else { throw DNNLError(operation: "a band with input rows", status: -1) }
                var src = try DNNL.memory([piece.images.count, c, band.rows.count, input.width], dnnl_nhwc)
                var dst = try DNNL.memory([piece.images.count, c, piece.rows.count, ow], dnnl_nhwc)
                let strides = [stride.0, stride.1].map { dnnl_dim_t($0) }, kernelDims = [kernel.0, kernel.1].map { dnnl_dim_t($0) }
                let left = [band.top, padding.1].map { dnnl_dim_t($0) }, right = [band.bottom, padding.1].map { dnnl_dim_t($0) }
                var desc = dnnl_pooling_desc_t()
                try DNNL.check(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, dnnl_pooling_max, &src, &dst,
                                                              strides, kernelDims, left, right), "max pool descriptor for \(input)")
                try withUnsafePointer(to: &desc) { d in
                    try layer.addPiece(UnsafeRawPointer(d), attributes: attr,
                                       sourceOffset: (piece.images.lowerBound * input.height + band.rows.lowerBound) * input.width * c,
                                       destinationOffset: (piece.images.lowerBound * oh + piece.rows.lowerBound) * ow * c)
                }
            }
        }
        self.layer = layer
    }

    public func run(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) throws {
        try layer.run(source, destination)
    }
}
