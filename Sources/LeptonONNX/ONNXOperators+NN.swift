import Foundation
import LeptonEngine

// Network layers on the engine's kernels: convolution (im2col + OpenBLAS), pooling, batch and
// layer normalisation, GEMM, softmax, mean reductions.

/// A 2-D convolution with constant weights, as planned (BatchNormalization may fold into it).
struct ConvSpec: Sendable {
    var weight: Tensor
    var bias: Tensor?
    var stride: (Int, Int)
    var padding: (Int, Int)
    var dilation: (Int, Int)
    var groups: Int

    /// This convolution followed by inference-mode batch normalisation, as one convolution:
    /// `W'[o] = W[o]·s[o]`, `b'[o] = (b[o] − mean[o])·s[o] + shift[o]` with `s = scale/√(var + eps)`.
    func foldingBatchNorm(scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, eps: Float) -> ConvSpec {
        let out = weight.shape[0], per = weight.count / out
        var w = weight.scalars, b = bias?.scalars ?? [Float](repeating: 0, count: out)
        for o in 0..<out {
            let s = scale[flat: o] / (variance[flat: o] + eps).squareRoot()
            for j in 0..<per { w[o * per + j] *= s }
            b[o] = (b[o] - mean[flat: o]) * s + shift[flat: o]
        }
        var folded = self
        folded.weight = Tensor(shape: weight.shape, scalars: w)
        folded.bias = Tensor(shape: [out], scalars: b)
        return folded
    }
}

extension Operators {
    static func registerNN(_ t: inout [String: Compiler]) {
        t["Conv"] = conv
        t["BatchNormalization"] = { ctx in
            let x = try ctx.float(0)
            guard ctx.int("training_mode", 0) == 0 else { throw ctx.unsupported("training_mode=1") }
            guard x.shape.count >= 2 else { throw ctx.mismatch("input \(x.shape) has no channel axis") }
            let c = x.shape[1]
            let params = try (1...4).map { i -> Tensor in
                let p = try ctx.float(i)
                guard p.shape.reduce(1, *) == c else { throw ctx.mismatch("input \(i) has shape \(p.shape), \(c) channels expected") }
                guard let v = p.constant?.floatTensor else { throw ctx.unsupported("input \(i) must be a constant") }
                return v
            }
            let eps = ctx.float("epsilon", 1e-5)
            return single(x.shape) {
                .float(floatArg($0, 0).batchNorm(mean: params[2], variance: params[3], weight: params[0], bias: params[1], eps: eps))
            }
        }
        t["MaxPool"] = { try pool($0, max: true) }
        t["AveragePool"] = { try pool($0, max: false) }
        t["GlobalAveragePool"] = { ctx in
            let x = try ctx.float(0)
            guard x.shape.count >= 3 else { throw ctx.mismatch("input \(x.shape) has no spatial axes") }
            let n = x.shape[0], c = x.shape[1], plane = x.shape[2...].reduce(1, *)
            let out = [n, c] + [Int](repeating: 1, count: x.shape.count - 2)
            return single(out, variable: { try variableArg($0, 0).reshaped([n, c, plane]).mean(axis: 2).reshaped(out) }) {
                .float(floatArg($0, 0).reshaped([n, c, plane]).mean(axis: 2).reshaped(out))
            }
        }
        t["ReduceMean"] = { try reduce($0, mean: true) }
        t["ReduceSum"] = { try reduce($0, mean: false) }
        t["Gemm"] = gemm
        t["MatMul"] = matmul
        t["Softmax"] = { ctx in
            let x = try ctx.float(0)
            let r = x.shape.count
            if ctx.opset < 13 {
                // Softmax over the input coerced to 2-D at `axis` (default 1).
                let axis = try ctx.axis(ctx.int("axis", 1), rank: r)
                let rows = x.shape[..<axis].reduce(1, *), cols = x.shape[axis...].reduce(1, *)
                return single(x.shape) { .float(floatArg($0, 0).reshaped([rows, cols]).softmax().reshaped(x.shape)) }
            }
            let axis = try ctx.axis(ctx.int("axis", -1), rank: r)
            if axis == r - 1 { return single(x.shape, variable: { try variableArg($0, 0).softmax() }) { .float(floatArg($0, 0).softmax()) } }
            var order = Array(0..<r); order.swapAt(axis, r - 1)
            let perm = order
            return single(x.shape) { .float(floatArg($0, 0).permuted(perm).softmax().permuted(perm)) }
        }
        t["LayerNormalization"] = { ctx in
            let x = try ctx.float(0)
            let r = x.shape.count
            let axis = try ctx.axis(ctx.int("axis", -1), rank: r)
            let width = x.shape[axis...].reduce(1, *), rows = x.shape[..<axis].reduce(1, *)
            let scale = try ctx.float(1), bias = ctx.optional(2)
            guard scale.shape.reduce(1, *) == width, bias == nil || bias!.shape.reduce(1, *) == width else {
                throw ctx.mismatch("scale \(scale.shape) and bias \(bias?.shape ?? []) for normalised extent \(Array(x.shape[axis...]))")
            }
            let eps = ctx.float("epsilon", 1e-5)
            return single(x.shape, variable: { args in
                try variableArg(args, 0).reshaped([rows, width])
                    .layerNorm(weight: try variableArg(args, 1).reshaped([width]), bias: try args.count > 2 && args[2] != nil ? variableArg(args, 2).reshaped([width]) : nil, eps: eps)
                    .reshaped(x.shape)
            }) { args in
                let w = floatArg(args, 1).reshaped([width])
                let b = args.count > 2 && args[2] != nil ? floatArg(args, 2).reshaped([width]) : nil
                return .float(floatArg(args, 0).reshaped([rows, width]).layerNorm(weight: w, bias: b, eps: eps).reshaped(x.shape))
            }
        }
    }

    /// The four spatial hyper-parameters of a 2-D convolution or pool; asymmetric pads and
    /// `auto_pad` other than NOTSET/VALID are refused.
    static func spatial(_ ctx: OpContext, kernel: [Int]) throws -> (stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)) {
        let autoPad = ctx.string("auto_pad", "NOTSET")
        guard autoPad == "NOTSET" || autoPad == "VALID" else { throw ctx.unsupported("auto_pad=\(autoPad)") }
        let s = ctx.ints("strides") ?? [1, 1], d = ctx.ints("dilations") ?? [1, 1]
        let p = autoPad == "VALID" ? [0, 0, 0, 0] : (ctx.ints("pads") ?? [0, 0, 0, 0])
        guard s.count == 2, d.count == 2, p.count == 4, kernel.count == 2 else { throw ctx.unsupported("only 2-D forms are implemented") }
        guard p[0] == p[2], p[1] == p[3] else { throw ctx.unsupported("asymmetric pads \(p)") }
        guard s.allSatisfy({ $0 >= 1 && $0 <= 1024 }), d.allSatisfy({ $0 >= 1 && $0 <= 1024 }), p.allSatisfy({ $0 >= 0 && $0 <= 1024 }),
              kernel.allSatisfy({ $0 >= 1 }) else { throw ctx.mismatch("strides \(s), dilations \(d), pads \(p) out of range") }
        return ((Int(s[0]), Int(s[1])), (Int(p[0]), Int(p[1])), (Int(d[0]), Int(d[1])))
    }

    static func conv(_ ctx: OpContext) throws -> Kernel {
        let x = try ctx.float(0), w = try ctx.float(1)
        guard x.shape.count == 4, w.shape.count == 4 else { throw ctx.unsupported("only 2-D convolution ([N, C, H, W]) is implemented; input \(x.shape), weight \(w.shape)") }
        guard let weight = w.constant?.floatTensor else { throw ctx.unsupported("the weight must be a constant") }
        let groups = Int(clamping: ctx.int("group", 1))
        guard groups >= 1, x.shape[1] % groups == 0, w.shape[0] % groups == 0, w.shape[1] * groups == x.shape[1] else {
            throw ctx.mismatch("input \(x.shape) and weight \(w.shape) do not fit with \(groups) group(s)")
        }
        if let k = ctx.ints("kernel_shape"), k.map(Int.init) != Array(w.shape[2...]) { throw ctx.mismatch("kernel_shape \(k) against weight \(w.shape)") }
        var bias: Tensor?
        if let b = ctx.optional(2) {
            guard b.shape == [w.shape[0]], let v = b.constant?.floatTensor else { throw ctx.mismatch("bias \(b.shape) must be a constant [\(w.shape[0])]") }
            bias = v
        }
        let (stride, padding, dilation) = try spatial(ctx, kernel: Array(w.shape[2...]))
        let g = Conv2dGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                               outChannels: w.shape[0], kernelH: w.shape[2], kernelW: w.shape[3],
                               stride: stride, padding: padding, dilation: dilation, groups: groups)
        guard g.outHeight > 0 && g.outWidth > 0 else { throw ctx.mismatch("output would be empty for input \(x.shape) and weight \(w.shape)") }
        let spec = ConvSpec(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
        return convKernel(spec, outputShape: try ctx.checked([g.batch, g.outChannels, g.outHeight, g.outWidth]))
    }

    static func convKernel(_ spec: ConvSpec, outputShape: [Int]) -> Kernel {
        var k = single(outputShape, variable: { args in
            try variableArg(args, 0).conv2d(weight: Variable(spec.weight), bias: spec.bias.map { Variable($0) }, stride: spec.stride,
                                            padding: spec.padding, dilation: spec.dilation, groups: spec.groups)
        }) { args in
            .float(floatArg(args, 0).conv2d(weight: spec.weight, bias: spec.bias, stride: spec.stride, padding: spec.padding,
                                            dilation: spec.dilation, groups: spec.groups))
        }
        k.fusion = .conv(spec)
        return k
    }

    static func pool(_ ctx: OpContext, max: Bool) throws -> Kernel {
        let x = try ctx.float(0)
        guard x.shape.count == 4 else { throw ctx.unsupported("only 2-D pooling ([N, C, H, W]) is implemented") }
        guard let k = ctx.ints("kernel_shape"), k.count == 2, k.allSatisfy({ $0 >= 1 && $0 <= 1024 }) else { throw ctx.mismatch("kernel_shape missing or out of range") }
        guard ctx.int("ceil_mode", 0) == 0 else { throw ctx.unsupported("ceil_mode=1") }
        let kernel = (Int(k[0]), Int(k[1]))
        let (stride, padding, dilation) = try spatial(ctx, kernel: k.map(Int.init))
        guard dilation == (1, 1) else { throw ctx.unsupported("dilated pooling") }
        if !max && padding != (0, 0) && ctx.int("count_include_pad", 0) == 0 {
            throw ctx.unsupported("padded average pooling without count_include_pad")
        }
        let oh = (x.shape[2] + 2 * padding.0 - kernel.0) / stride.0 + 1, ow = (x.shape[3] + 2 * padding.1 - kernel.1) / stride.1 + 1
        guard oh > 0 && ow > 0, x.shape[2] + 2 * padding.0 >= kernel.0, x.shape[3] + 2 * padding.1 >= kernel.1 else {
            throw ctx.mismatch("kernel \(k) does not fit input \(x.shape)")
        }
        let out = [x.shape[0], x.shape[1], oh, ow]
        if max {
            var k = single(out, variable: { try variableArg($0, 0).maxPool2d(kernel: kernel, stride: stride, padding: padding) }) {
                .float(floatArg($0, 0).maxPool2d(kernel: kernel, stride: stride, padding: padding))
            }
            k.fusion = .maxPool(kernel: kernel, stride: stride, padding: padding)
            return k
        }
        return single(out, variable: { try variableArg($0, 0).avgPool2d(kernel: kernel, stride: stride, padding: padding) }) {
            .float(floatArg($0, 0).avgPool2d(kernel: kernel, stride: stride, padding: padding))
        }
    }

    static func reduce(_ ctx: OpContext, mean: Bool) throws -> Kernel {
        let x = try ctx.float(0)
        let r = x.shape.count
        let fromInput = ctx.opset >= 18 || (!mean && ctx.opset >= 13)
        let given: [Int64]? = fromInput ? (ctx.optional(1) != nil ? try ctx.constant(1, "axes").integers : nil) : ctx.ints("axes")
        var axes = try (given ?? []).map { try ctx.axis($0, rank: r) }
        if axes.isEmpty {
            if ctx.int("noop_with_empty_axes", 0) != 0 { return single(x.shape, variable: { try variableArg($0, 0) }) { $0[0]! } }
            axes = Array(0..<r)
        }
        let keep = ctx.int("keepdims", 1) != 0
        let set = Set(axes), order = set.sorted(by: >)
        let out = keep ? x.shape.indices.map { set.contains($0) ? 1 : x.shape[$0] } : x.shape.indices.filter { !set.contains($0) }.map { x.shape[$0] }
        return single(out, variable: { args in
            var v = try variableArg(args, 0)
            for a in order { v = mean ? v.mean(axis: a, keepingAxis: true) : v.sum(axis: a, keepingAxis: true) }
            return v.reshaped(out)
        }) { args in
            var v = floatArg(args, 0)
            for a in order { v = mean ? v.mean(axis: a, keepingAxis: true) : v.sum(axis: a, keepingAxis: true) }
            return .float(v.reshaped(out))
        }
    }

    static func gemm(_ ctx: OpContext) throws -> Kernel {
        let a = try ctx.float(0), b = try ctx.float(1), c = ctx.optional(2)
        guard a.shape.count == 2, b.shape.count == 2 else { throw ctx.mismatch("Gemm needs 2-D inputs, got \(a.shape) and \(b.shape)") }
        let ta = ctx.int("transA", 0) != 0, tb = ctx.int("transB", 0) != 0
        let alpha = ctx.float("alpha", 1), beta = ctx.float("beta", 1)
        let (m, k) = ta ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = tb ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == k2 else { throw ctx.mismatch("inner extents differ: A \(a.shape)\(ta ? "ᵀ" : ""), B \(b.shape)\(tb ? "ᵀ" : "")") }
        if let c, broadcastShape(c.shape, [m, n]) != [m, n] { throw ctx.mismatch("C \(c.shape) does not broadcast to [\(m), \(n)]") }
        let out = try ctx.checked([m, n])
        let hasC = c != nil
        return single(out, variable: { args in
            var y = try variableArg(args, 0).matmul(try variableArg(args, 1), transposeSelf: ta, transposeOther: tb)
            if alpha != 1 { y = y * alpha }
            if hasC { y = y + (beta == 1 ? try variableArg(args, 2) : try variableArg(args, 2) * beta) }
            return y
        }) { args in
            var y = floatArg(args, 0).matmul(floatArg(args, 1), transposeSelf: ta, transposeOther: tb)
            if alpha != 1 { y = y * alpha }
            if hasC { y = y + (beta == 1 ? floatArg(args, 2) : floatArg(args, 2) * beta) }
            return .float(y)
        }
    }

    static func matmul(_ ctx: OpContext) throws -> Kernel {
        let a = try ctx.float(0), b = try ctx.float(1)
        guard a.shape.count >= 2, b.shape.count >= 2 else { throw ctx.unsupported("1-D operands (\(a.shape), \(b.shape))") }
        let k = a.shape[a.shape.count - 1]
        guard k == b.shape[b.shape.count - 2] else { throw ctx.mismatch("inner extents differ: \(a.shape) · \(b.shape)") }
        let n = b.shape[b.shape.count - 1]
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        if b.shape.count == 2 {
            let out = try ctx.checked(Array(a.shape.dropLast()) + [n])
            if let w = b.constant?.floatTensor {
                var kernel = linearKernel(weight: w, bias: nil, outputShape: out)
                kernel.fusion = .matmul(weight: w)
                return kernel
            }
            return single(out, variable: { try variableArg($0, 0).matmul(try variableArg($0, 1)) }) {
                .float(floatArg($0, 0).reshaped([-1, k]).matmul(floatArg($0, 1)).reshaped(out))
            }
        }
        guard aBatch == bBatch || aBatch.isEmpty else { throw ctx.unsupported("batch axes \(aBatch) and \(bBatch) differ") }
        let out = try ctx.checked(bBatch + [a.shape[a.shape.count - 2], n])
        return single(out, variable: { try variableArg($0, 0).matmul(try variableArg($0, 1)) }) {
            .float(floatArg($0, 0).matmul(floatArg($0, 1)))
        }
    }

    /// `x · W (+ bias)` with a constant `[k, n]` weight: the leading axes of `x` folded into one
    /// GEMM's rows, the bias written into the output first and the product added to it (beta = 1).
    static func linearKernel(weight: Tensor, bias: Tensor?, outputShape: [Int]) -> Kernel {
        let k = weight.shape[0], n = weight.shape[1]
        var kernel = single(outputShape, variable: { args in
            let y = try variableArg(args, 0).matmul(Variable(weight))
            return bias.map { y + Variable($0) } ?? y
        }) { args in
            let x = floatArg(args, 0)
            let rows = x.count / Swift.max(k, 1)
            let y = Tensor(shape: outputShape) { o in
                let po = o.baseAddress!
                if let bias {
                    bias.withUnsafeBufferPointer { pb in for r in 0..<rows { (po + r * n).update(from: pb.baseAddress!, count: n) } }
                }
                x.withUnsafeBufferPointer { xa in weight.withUnsafeBufferPointer { wb in
                    BLAS.sgemm(m: rows, n: n, k: k, a: xa.baseAddress!, lda: k, b: wb.baseAddress!, ldb: n,
                               beta: bias == nil ? 0 : 1, c: po, ldc: n)
                } }
            }
            return .float(y)
        }
        kernel.fusion = .none
        return kernel
    }
}
